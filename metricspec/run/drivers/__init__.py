"""One module per warehouse driver, loaded by :func:`metricspec.run.connections.connect`.

Each module exposes ``open_connection(url: WarehouseURL) -> Connection`` and imports its
third-party driver inside that function (through ``import_driver``), so that importing the
module never fails and a missing driver is reported with its ``pip install`` hint.
"""
