# Sourced by the scripts that run a function under cargo-lambda's local Lambda emulator:
# installs cargo-lambda with `pip install cargo-lambda` when it is missing (the pip package
# also brings the Zig toolchain `cargo lambda build` links with), and puts it on PATH.
if ! command -v cargo-lambda >/dev/null 2>&1; then
    PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
fi
if ! command -v cargo-lambda >/dev/null 2>&1; then
    echo "== installing cargo-lambda (pip install cargo-lambda)"
    python3 -m pip install --quiet cargo-lambda
    # pyenv needs its shims regenerated.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
    hash -r
    command -v cargo-lambda >/dev/null 2>&1 || { echo "cargo-lambda is not on PATH after pip install" >&2; exit 1; }
fi
echo "== $(cargo lambda --version)"
