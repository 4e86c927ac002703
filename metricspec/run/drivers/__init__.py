"""One module per warehouse driver, loaded by :func:`metricspec.run.connections.connect`.

Each module exposes ``open_connection(url: WarehouseURL, *, create: bool = False) ->
Connection`` (``create`` lets an embedded database be created) and imports its
third-party driver inside that function (through ``import_driver``), so that importing the
module never fails and a missing driver is reported with its ``pip install`` hint.
"""
