"""The one thing pyproject.toml cannot say without an experimental table: the benchmark's AIO
loop in C (backends/_aioloop.c), which the Python loop cannot match (issue 14). A compile
error fails the install, and so `make`, rather than leaving a slower engine in place
unnoticed."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "backends._aioloop",
            sources=["backends/_aioloop.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror"],
        )
    ]
)
