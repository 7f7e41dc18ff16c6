"""Detection: co-action networks from the ``actions`` table (see ``detect.kernel``)."""
