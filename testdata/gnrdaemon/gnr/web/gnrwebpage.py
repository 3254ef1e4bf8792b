"""ClientDataChange under the module path Genropy uses (gnr.web.gnrwebpage).

Pickles name a class by module and name, so keeping Genropy's path makes the test daemon's
datachanges byte-for-byte the same shape as the real daemon's: a client (Go or Python)
sees the class gnr.web.gnrwebpage.ClientDataChange either way.
"""

from datetime import datetime


class ClientDataChange(object):
    """One pending change for a client page; pickled as an object, like Genropy's."""

    def __init__(self, path, value, attributes=None, reason=None, fired=False,
                 change_ts=None, change_idx=None, delete=False, **kwargs):
        self.path = path
        self.value = value
        self.attributes = attributes
        self.reason = reason
        self.fired = fired
        self.change_ts = change_ts or datetime.now()
        self.change_idx = change_idx
        self.delete = delete

    def __eq__(self, other):
        # set_datachange(replace=True) drops the pending change with the same path and reason.
        return isinstance(other, ClientDataChange) and \
            (self.path, self.reason) == (other.path, other.reason)

    def __repr__(self):
        return "ClientDataChange(%r, %r, idx=%r)" % (self.path, self.value, self.change_idx)
