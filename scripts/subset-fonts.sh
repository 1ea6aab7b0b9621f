#!/usr/bin/env bash
# Rebuilds api/assets/fonts/: DejaVu Sans cut down to what a Russian business document prints
# (Latin, Latin-1, Cyrillic, punctuation, №, ₽). The PDF writer embeds the font whole, so the
# cut keeps every printed invoice small (~40 KB) and cheap to compress.
# Needs Debian's fonts-dejavu-core and `pip install fonttools`.
set -euo pipefail
cd "$(dirname "$0")/.."
src=/usr/share/fonts/truetype/dejavu
for face in DejaVuSans DejaVuSans-Bold; do
  pyftsubset "$src/$face.ttf" \
    --unicodes="U+0020-007E,U+00A0-00FF,U+0400-045F,U+2010-2027,U+2030-203A,U+2116,U+20BD,U+2212" \
    --layout-features='*' --output-file="api/assets/fonts/$face.ttf"
done
cp /usr/share/doc/fonts-dejavu-core/copyright api/assets/fonts/LICENSE
