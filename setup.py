"""Builds kafkette's Python extension: the C core (core/src/*.c), the binding (ext/python/*.c)
and the console command (tools/cli/*.c but main.c, run by kafkette._cli) compiled together into
one module, kafkette._kafkette.

Metadata lives in pyproject.toml. Environment:
  KAFKETTE_WERROR=0   do not turn compiler warnings into errors (they are errors by default)
  KAFKETTE_CFLAGS     extra compiler flags (for example "-O0 -g" or "-fsanitize=address")
"""
import glob
import os
import shlex
import subprocess

from setuptools import Extension, setup

ROOT = os.path.dirname(os.path.abspath(__file__))


def rel(pattern):
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern)))


core_sources = rel("core/src/*.c")
ext_sources = rel("ext/python/*.c")
cli_sources = [p for p in rel("tools/cli/*.c") if os.path.basename(p) != "main.c"]
if not core_sources or not ext_sources or not cli_sources:
    raise SystemExit("setup.py: core/src, ext/python or tools/cli sources not found (is this a complete checkout?)")

compile_args = ["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra"]
if os.environ.get("KAFKETTE_WERROR", "1") != "0":
    compile_args.append("-Werror")
compile_args += shlex.split(os.environ.get("KAFKETTE_CFLAGS", ""))


def pkg_config(package, fallback_libs):
    """(cflags, libraries, link args) from pkg-config, or the plain library names without it."""
    try:
        cflags = subprocess.run(["pkg-config", "--cflags", package], check=True,
                                capture_output=True, text=True).stdout.split()
        libs = subprocess.run(["pkg-config", "--libs", package], check=True,
                              capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return [], fallback_libs, []
    return (cflags, [f[2:] for f in libs if f.startswith("-l")],
            [f for f in libs if not f.startswith("-l")])


# TLS and SCRAM (Debian: libssl-dev)
openssl_cflags, openssl_libs, openssl_link = pkg_config("openssl", ["ssl", "crypto"])
compile_args += openssl_cflags

extension = Extension(
    "kafkette._kafkette",
    sources=core_sources + ext_sources + cli_sources,
    include_dirs=["core/include", "core/src", "ext/python", "tools/cli"],
    # Python.h sets the POSIX level for the binding; the core asks for the same one itself.
    define_macros=[("_POSIX_C_SOURCE", "200809L")],
    depends=rel("core/include/*.h") + rel("core/src/*.h") + rel("ext/python/*.h") + rel("tools/cli/*.h"),
    extra_compile_args=compile_args,
    libraries=["z", "snappy", "lz4", "zstd"] + openssl_libs,
    # Calls between the core's functions stay inside the module even if the process has
    # loaded another library with the same names.
    extra_link_args=["-Wl,-Bsymbolic"] + openssl_link,
)

setup(
    ext_modules=[extension],
    options={"build": {"build_base": "build/python"}},
)
