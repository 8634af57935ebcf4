#!/usr/bin/env bash
# Print the path of a working Python 3.13 interpreter (the runtime named in firebase.json).
# Tries python3.13 on PATH (a pyenv shim there may not be active), then pyenv's installs.
set -euo pipefail
works() { "$1" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1; }
if command -v python3.13 >/dev/null 2>&1 && works python3.13; then
  python3.13 -c 'import sys; print(sys.executable)'; exit 0
fi
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in $(ls -d "$root"/versions/3.13* 2>/dev/null | sort -rV); do
  if works "$candidate/bin/python3.13"; then echo "$candidate/bin/python3.13"; exit 0; fi
done
echo "python3.13 not found: install Python 3.13 (e.g. 'pyenv install 3.13') and retry" >&2
exit 1
