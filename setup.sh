#!/usr/bin/env bash
# Set up rtstyle in ./.venv on a Debian/Ubuntu machine with Python >= 3.10.
#   ./setup.sh        the tool itself, with its HTTP service (the serve extra: FastAPI, uvicorn, aiortc)
#   ./setup.sh dev    plus the test tools: pytest, ffmpeg/ffprobe for checking outputs, Xvfb and
#                     xdotool for the live-window tests, GStreamer's RTSP server for the stream tests,
#                     Chromium and ChromeDriver for the service's browser test
# System packages (python3-venv, libgl1 for OpenCV, the test tools above) are installed with
# apt-get only when missing. Python packages come at the versions the test suite passed with
# (constraints.txt; RTSTYLE_UNPINNED=1 takes the newest that pyproject.toml allows instead).
# torch is installed only when none is present; to use a GPU, install a CUDA build of torch into
# .venv first: it is kept, whatever its version.
set -euo pipefail
cd "$(dirname "$0")"
extra="${1:-}"

apt_wants=()
python3 -c "import ensurepip, venv" 2>/dev/null || apt_wants+=(python3-venv)
ldconfig -p 2>/dev/null | grep -q 'libGL.so.1 ' || apt_wants+=(libgl1)
ldconfig -p 2>/dev/null | grep -q 'libglib-2.0.so.0 ' || apt_wants+=(libglib2.0-0)
if [ "$extra" = dev ]; then
  command -v ffprobe >/dev/null || apt_wants+=(ffmpeg)
  command -v Xvfb >/dev/null || apt_wants+=(xvfb)
  command -v xdotool >/dev/null || apt_wants+=(xdotool)
  command -v chromium >/dev/null || apt_wants+=(chromium)
  command -v chromedriver >/dev/null || apt_wants+=(chromium-driver)
  /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null \
    && gst-inspect-1.0 tsdemux >/dev/null 2>&1 && gst-inspect-1.0 rtph264pay >/dev/null 2>&1 \
    || apt_wants+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-tools
                   gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
                   gstreamer1.0-plugins-ugly gstreamer1.0-libav)
fi
if [ ${#apt_wants[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing system packages: ${apt_wants[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_wants[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if [ "${RTSTYLE_UNPINNED:-0}" = 1 ]; then
  .venv/bin/python -c "import torch" 2>/dev/null || "${pip[@]}" "torch$(sed -n 's/^torch==/==/p' constraints.txt)"
else
  # a torch already in .venv (a CUDA build, say) stays: the pins minus torch's
  pins=$(mktemp); trap 'rm -f "$pins"' EXIT
  if .venv/bin/python -c "import torch" 2>/dev/null; then grep -v '^torch==' constraints.txt >"$pins"
  else cp constraints.txt "$pins"; "${pip[@]}" -c "$pins" torch; fi
  pip+=(-c "$pins")
fi
if [ "$extra" = dev ]; then
  "${pip[@]}" -e ".[dev]"
else
  "${pip[@]}" -e ".[serve]"
fi
echo "setup: ready (.venv/bin/rtstyle)"
