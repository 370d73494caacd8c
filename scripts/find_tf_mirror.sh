#!/usr/bin/env bash
# Print the root of a local Terraform provider mirror that holds hashicorp/aws, or nothing.
# Used only when TF_PLUGIN_DIR is not set; on a normal workstation it prints nothing and
# `terraform init` downloads providers from the registry as usual.
set -uo pipefail
for root in "${HOME:-/root}/.terraform.d/plugins" /usr/local/share/terraform/plugins \
            /usr/share/terraform/plugins /opt /usr/local /srv; do
  [ -d "$root" ] || continue
  hit=$(find "$root" -maxdepth 6 -type d -path '*registry.terraform.io/hashicorp/aws' 2>/dev/null | head -n 1)
  if [ -n "$hit" ]; then
    dirname "$(dirname "$(dirname "$hit")")"
    exit 0
  fi
done
exit 0
