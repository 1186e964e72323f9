"""`python -m broadcaster.bench`: the bench commands without the main CLI."""

from broadcaster.bench.cli import bench_app

if __name__ == "__main__":
    bench_app()
