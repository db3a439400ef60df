"""Bridges to other graph libraries: ``gkd.interop.dgl`` (optional extra ``gkd[dgl]``)."""
