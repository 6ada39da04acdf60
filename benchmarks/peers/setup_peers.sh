#!/usr/bin/env bash
# Builds the peers' environment of benchmarks/bench_peers.py: a venv OUTSIDE the
# repository with learn2learn, higher, torchopt, torchmeta and skmeta itself,
# all on the local torch 2.13.0. The peers never enter skmeta's dependencies.
#
#   bash benchmarks/peers/setup_peers.sh [VENV]      (default: /work/peers-venv)
#
# Then: VENV/bin/python benchmarks/bench_peers.py
#
# What needs care (each step below says why):
# * pip must never pull another torch: every install goes through
#   constraints.txt (torch==2.13.0 and the peers' versions).
# * learn2learn 0.2.0 ships only a source release whose three Cython-generated
#   .c files (Cython 0.29) do not compile on Python 3.11: they are regenerated
#   with Cython 3 and built without build isolation. It is installed with
#   --no-deps: of its requirements, `import learn2learn` needs requests, scipy,
#   tqdm and gym (gym, qpth, gsutil... are not used by MAML/MetaSGD).
# * torchvision 0.28.0 on PyPI is the CUDA build; beside a CPU torch its C++
#   extension does not load and `import torchvision` fails ("operator
#   torchvision::nms does not exist"). bench_peers.py imports it through
#   peers/_compat.py, which declares the two missing operator schemas.
# * torchmeta 1.8.0 pins torch<1.10: installed with --no-deps, plus h5py and
#   ordered-set; _compat.py supplies two private torchvision helpers it imports.
set -euo pipefail

VENV=${1:-${PEERS_VENV:-/work/peers-venv}}
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
C="$HERE/constraints.txt"

"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -c "$C")

"${PIP[@]}" torch==2.13.0 numpy
"${PIP[@]}" higher torchopt
"${PIP[@]}" torchvision==0.28.0

# learn2learn 0.2.0 from its source release, Cython files regenerated
"${PIP[@]}" "cython>=3" wheel setuptools
SRC=$(mktemp -d)
trap 'rm -rf "$SRC"' EXIT
"$VENV/bin/python" -m pip download --no-deps --no-binary learn2learn --no-build-isolation \
    -c "$C" learn2learn==0.2.0 -d "$SRC"
tar xzf "$SRC/learn2learn-0.2.0.tar.gz" -C "$SRC"
(cd "$SRC/learn2learn-0.2.0" && rm -rf .eggs &&
    "$VENV/bin/cython" -3 learn2learn/data/meta_dataset.pyx learn2learn/data/task_dataset.pyx \
        learn2learn/data/transforms.pyx)
"${PIP[@]}" --no-build-isolation --no-deps "$SRC/learn2learn-0.2.0"
"${PIP[@]}" requests scipy tqdm gym

# torchmeta without its old pins
"${PIP[@]}" --no-deps torchmeta
"${PIP[@]}" h5py ordered-set

# skmeta itself (editable, from this checkout) and its dependencies
"${PIP[@]}" --no-deps -e "$ROOT"
"${PIP[@]}" "scikit-learn>=1.6" "skorch>=1.0" "joblib>=1.3" "tqdm>=4.60" "scipy>=1.9" matplotlib

"$VENV/bin/python" "$HERE/_compat.py"   # every peer imports, or it says which does not
