#!/usr/bin/env bash
# Type-check the board build (edge/board + the portable core it imports) as MicroPython on an ESP32
# sees it: typeshed replaced by micropython-stdlib-stubs plus micropython-esp32-stubs (machine,
# ntptime, time.ticks_ms, ...), no CPython site-packages. Called by `make typecheck`.
# usage: edge/board/typecheck.sh PATH/TO/mypy
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MYPY=$(cd "$(dirname "${1:-$ROOT/.venv/bin/mypy}")" && pwd)/$(basename "${1:-mypy}")
SITE=$("$(dirname "$MYPY")/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
OUT=$ROOT/build/typecheck-board
rm -rf "$OUT" && mkdir -p "$OUT/typeshed/stdlib"

# A custom typeshed: MicroPython's stdlib stubs, then the ESP32 port's modules over them.
ln -s "$SITE/stubs" "$OUT/typeshed/stubs"
for path in "$SITE"/stdlib/*; do
    [ "$(basename "$path")" = VERSIONS ] || ln -s "$path" "$OUT/typeshed/stdlib/"
done
cp "$SITE/stdlib/VERSIONS" "$OUT/typeshed/stdlib/VERSIONS"
for name in $(awk -F, '$1 ~ /\.pyi$/ {split($1, part, "/"); print part[1]}' \
        "$SITE"/micropython_esp32_stubs-*.dist-info/RECORD | sort -u); do
    ln -sfn "$SITE/$name" "$OUT/typeshed/stdlib/$name"
    grep -q "^${name%.pyi}:" "$OUT/typeshed/stdlib/VERSIONS" || echo "${name%.pyi}: 3.0-" >> "$OUT/typeshed/stdlib/VERSIONS"
done

# Only what goes onto the board (and the Protocols it is checked against), at its import path.
"$(dirname "$MYPY")/python" -m speedledger.layout board-typing "$OUT"

cd "$OUT"
"$MYPY" --config-file /dev/null --custom-typeshed-dir "$OUT/typeshed" --python-version 3.11 --no-site-packages \
    --check-untyped-defs --disallow-incomplete-defs --warn-unused-ignores --warn-redundant-casts -p speedledger \
    2> >(grep -v "No \[mypy\] section" >&2)
