#!/usr/bin/env bash
# Renders lathe-studio.svg into the PNG sizes of the hicolor icon theme (hicolor/NxN/apps/), which the
# .deb package installs beside the SVG. Needs rsvg-convert (Debian: librsvg2-bin). Run after editing the SVG.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
for size in 16 24 32 48 64 128 256 512; do
  mkdir -p "hicolor/${size}x${size}/apps"
  rsvg-convert -w "$size" -h "$size" lathe-studio.svg -o "hicolor/${size}x${size}/apps/lathe-studio.png"
done
