"""The local cloud: LocalStack on this host with the host Lambda executor, the local entity API
server, their environments, and deploying the Terraform root into it (`python -m localcloud`)."""
