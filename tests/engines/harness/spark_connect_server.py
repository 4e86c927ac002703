"""Start a local Spark Connect server for tests; stop it by closing stdin.

Usage: python spark_connect_server.py PORT   (the token is read from the environment variable
SPARK_CONNECT_AUTHENTICATE_TOKEN). Prints "started" once Spark is up; the caller then waits
for the port to accept connections.
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession


def main() -> None:
    """Serve on 127.0.0.1:PORT until stdin closes."""
    port = sys.argv[1]
    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.address", "127.0.0.1")
        .config("spark.connect.grpc.binding.port", port)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    print("started", flush=True)
    sys.stdin.read()
    session.stop()


if __name__ == "__main__":
    main()
