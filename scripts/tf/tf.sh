#!/usr/bin/env bash
# Run terraform; when a provider mirror is given or found, install hashicorp/aws only from it.
#   TF_PLUGIN_DIR=<dir>  use this mirror;  TF_PLUGIN_DIR= (set, empty)  use the registry;
#   TF_PLUGIN_DIR unset  look for a mirror on this machine (below), else use the registry.
# On a normal workstation no mirror is found and terraform behaves exactly as usual.
#   tf.sh --mirror       print the mirror that would be used (empty: the registry) and exit.
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/../.." && pwd)

# The root of a local provider mirror that holds hashicorp/aws, or nothing.
find_mirror() {
  local root hit
  for root in "${HOME:-/root}/.terraform.d/plugins" /usr/local/share/terraform/plugins \
              /usr/share/terraform/plugins /opt /usr/local /srv; do
    [ -d "$root" ] || continue
    hit=$(find "$root" -maxdepth 6 -type d -path '*registry.terraform.io/hashicorp/aws' 2>/dev/null | head -n 1)
    if [ -n "$hit" ]; then
      dirname "$(dirname "$(dirname "$hit")")"
      return 0
    fi
  done
}

if [ -z "${TF_PLUGIN_DIR+set}" ]; then
  TF_PLUGIN_DIR=$(find_mirror)
fi
if [ "${1:-}" = "--mirror" ]; then
  echo "$TF_PLUGIN_DIR"
  exit 0
fi
if [ -n "$TF_PLUGIN_DIR" ]; then
  if [ ! -d "$TF_PLUGIN_DIR/registry.terraform.io/hashicorp/aws" ]; then
    echo "TF_PLUGIN_DIR=$TF_PLUGIN_DIR holds no registry.terraform.io/hashicorp/aws folder." >&2
    exit 2
  fi
  config_dir="$repo_root/.cache/terraform"
  mkdir -p "$config_dir"
  rc="provider_installation {
  filesystem_mirror {
    path    = \"$TF_PLUGIN_DIR\"
    include = [\"registry.terraform.io/hashicorp/aws\"]
  }
  direct {
    exclude = [\"registry.terraform.io/hashicorp/aws\"]
  }
}"
  # Several terraform runs share this file (make test runs them side by side): written only
  # when it changes, through a rename, so no run ever reads it half written.
  if [ "$(cat "$config_dir/terraformrc" 2>/dev/null)" != "$rc" ]; then
    tmp=$(mktemp "$config_dir/terraformrc.XXXXXX")
    printf '%s\n' "$rc" >"$tmp"
    mv -f "$tmp" "$config_dir/terraformrc"
  fi
  export TF_CLI_CONFIG_FILE="$config_dir/terraformrc"
elif [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
  # A config variable that points at nothing only produces warnings.
  unset TF_CLI_CONFIG_FILE
fi
exec terraform "$@"
