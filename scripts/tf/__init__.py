"""Terraform helpers: `tf.sh` (terraform with an optional provider mirror), `test.sh`
(`make test-terraform`) and the README tables generator (`python -m tf.docs`)."""
