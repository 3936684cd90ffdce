"""Data roots in object storage (`s3://`, `gs://`, `az://` ...), read through fsspec.

Layout: `urls` (pure: a URL <-> the path that stands for it inside a run), `access` (the
filesystem, built lazily from the optional extra, one recursive listing of a data root,
small reads), `reader` (range reads of one object, counted). Nothing here knows settings,
discovery or the probe: they are given a `RemoteSpec` and call in.
"""
