#!/usr/bin/env bash
# Run terraform; when TF_PLUGIN_DIR names a provider mirror, install providers only from it.
# Without TF_PLUGIN_DIR terraform behaves exactly as on any workstation.
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${TF_PLUGIN_DIR:-}" ]; then
  if [ ! -d "$TF_PLUGIN_DIR/registry.terraform.io/hashicorp/aws" ]; then
    echo "TF_PLUGIN_DIR=$TF_PLUGIN_DIR holds no registry.terraform.io/hashicorp/aws folder." >&2
    exit 2
  fi
  config_dir="$repo_root/.cache/terraform"
  mkdir -p "$config_dir"
  cat > "$config_dir/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$TF_PLUGIN_DIR"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
RC
  export TF_CLI_CONFIG_FILE="$config_dir/terraformrc"
elif [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
  # A config variable that points at nothing only produces warnings.
  unset TF_CLI_CONFIG_FILE
fi
exec terraform "$@"
