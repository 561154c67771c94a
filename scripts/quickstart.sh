#!/usr/bin/env bash
# One command for a newcomer: set up .venv (if needed) and run the README's
# quick start in a fresh temp folder, echoing each command as it runs.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$repo/.venv/bin/flowctl" ]; then
  python3 -m venv "$repo/.venv"
  "$repo/.venv/bin/python" -m pip install --quiet -e "$repo"
fi
export PATH="$repo/.venv/bin:$PATH"
work="$(mktemp -d)"
cd "$work"
echo "# quick start in $work"
set -x
flowctl init
flowctl create credit-card-nba --name "Credit card NBA"
flowctl update credit-card-nba --set '/nodes/score/config/method="propensity"'
flowctl publish credit-card-nba -m "first release"
flowctl update credit-card-nba --set '/nodes/rank/config/topN=3'
flowctl publish credit-card-nba -m "top 3 only"
flowctl update credit-card-nba --set '/nodes/score/config/method="scorecard"'
flowctl diff credit-card-nba
flowctl publish credit-card-nba -m "scorecard"
flowctl versions credit-card-nba
flowctl rollback credit-card-nba --version 2 --notes "scorecard mis-scored"
flowctl versions credit-card-nba
flowctl verify
