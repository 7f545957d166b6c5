# Shared by the fidelity scripts (scripts/fidelity-ablation.sh, scripts/defaults-table.sh); sourced, not run.
# The caller sets root (the repository), model (the model directory) and work (its work directory).

dj() { "$root/bin/dijiang" "$@"; }

require_model() {
  [ -f "$model/config.json" ] || { echo "error: no model at $model (set DIJIANG_MODEL)" >&2; exit 2; }
}

# num FILE KEY [VARIANT]: a number from an eval JSON (written indented by `dijiang eval --json`): the top-level
# KEY, or with VARIANT that key of the `ablation` row of that variant (eval --ablate).
num() {
  awk -v key="\"$2\"" -v want="${3:-}" '
    /^  "ablation" : / { inside = 1 }
    inside && /^    "variant" : / { current = $3; gsub(/[",]/, "", current) }
    {
      top = want == "" && !inside && $0 ~ /^  "/
      row = want != "" && inside && current == want && $0 ~ /^    "/
      if ((top || row) && $1 == key) { v = $3; gsub(/,/, "", v); print v }
    }' "$1"
}
