#!/usr/bin/env bash
# Install the Debian packages speedledger needs when they are missing, saying what each is for.
# Runs apt-get as root (directly, or through sudo when available). Idempotent.
set -euo pipefail

declare -a missing=()
need() {  # need PACKAGE WHY CHECK-COMMAND...
    local package=$1 why=$2
    shift 2
    if ! "$@" >/dev/null 2>&1; then
        echo "system-deps: installing $package ($why)"
        missing+=("$package")
    fi
}

need mosquitto "MQTT broker for integration tests and real deployments" command -v mosquitto
need postgresql "PostgreSQL 15 server for the scale-out event store and its tests" \
    bash -c 'ls /usr/lib/postgresql/*/bin/pg_ctl'
need tesseract-ocr "OCR engine behind the plate reader" command -v tesseract
need tesseract-ocr-eng "Tesseract language data used by the plate reader" \
    bash -c 'ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata'
need fonts-dejavu-core "typeface of the simulator's rendered number plates" \
    bash -c 'ls /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf'
need poppler-utils "pdftotext reads the notices of infraction back in tests" command -v pdftotext
need nodejs "runs the MicroPython WebAssembly port in tests" command -v node
need npm "installs the MicroPython WebAssembly port" command -v npm
need chromium "the browser Playwright drives in the dashboard tests and \`make screenshots\`" \
    bash -c 'ls /usr/bin/chromium'

if ((${#missing[@]})); then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "system-deps: need root to install: ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
