#!/usr/bin/env bash
# Creates one virtual environment per benchmark peer under $PEER_VENVS
# (default /work/peer-venvs, outside the repository). Their pins conflict with
# each other and with dpsynth, so each peer gets its own environment. Idempotent:
# a venv whose marker file exists is left alone; a failed install is retried on
# the next run. Peers are benchmark-only: dpsynth never imports them.
#
# Usage: bash benchmarks/peers/setup.sh [PEER ...]   (default: all peers)
#        PEER is one of: mbi opendp smartnoise dpmm anonymeter
#        (anonymeter is the audit peer of benchmarks/audit.py, not a synthesizer)
set -u

ROOT="${PEER_VENVS:-/work/peer-venvs}"
PYTHON="${PEER_PYTHON:-python3}"
mkdir -p "$ROOT"

install_peer() {
    local name="$1"
    shift
    local venv="$ROOT/$name"
    local marker="$venv/.dpsynth-peer-ok"
    if [[ -f "$marker" ]]; then
        echo "[$name] already installed ($venv)"
        return 0
    fi
    echo "[$name] creating $venv"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv" || return 1
    "$venv/bin/python" -m pip install --quiet --upgrade pip wheel || return 1
    local step
    for step in "$@"; do
        echo "[$name] pip install $step"
        # shellcheck disable=SC2086  # each step is a list of requirement words
        if ! "$venv/bin/python" -m pip install --quiet $step; then
            echo "[$name] FAILED: pip install $step" >&2
            return 1
        fi
    done
    "$venv/bin/python" -m pip freeze >"$venv/.dpsynth-peer-freeze.txt"
    date -u +%FT%TZ >"$marker"
    echo "[$name] ok"
}

peers=("$@")
if [[ ${#peers[@]} -eq 0 ]]; then
    peers=(mbi opendp smartnoise dpmm anonymeter)
fi

status=0
for peer in "${peers[@]}"; do
    case "$peer" in
        mbi) install_peer mbi "mbi==2.0.0 pandas" || status=1 ;;
        opendp) install_peer opendp "opendp[mbi]==0.16.0 pandas" || status=1 ;;
        smartnoise)
            install_peer smartnoise "torch==2.13.0" \
                "smartnoise-synth==1.0.8 packaging" || status=1
            ;;
        dpmm) install_peer dpmm "dpmm==0.1.9" || status=1 ;;
        anonymeter) install_peer anonymeter "anonymeter==1.1.0" || status=1 ;;
        *)
            echo "unknown peer: $peer (expected mbi opendp smartnoise dpmm anonymeter)" >&2
            status=1
            ;;
    esac
done
exit $status
