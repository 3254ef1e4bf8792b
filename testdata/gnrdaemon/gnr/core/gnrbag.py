"""A minimal Bag under Genropy's module path (gnr.core.gnrbag).

The real daemon keeps each register item's data store in a Genropy Bag: an ordered tree of
BagNodes (label, value, attributes) addressed by dotted paths. This stand-in has the same
instance layout (Bag._nodes holding BagNode objects with label, _value, attr) so its pickles
carry the shape a client of the real daemon decodes, and the handful of methods the
RemoteData object is asked for: getItem, setItem, pop, keys, clear, digest-free walking.
"""


class BagNode(object):
    def __init__(self, parentbag, label, value=None, attr=None):
        self.label = label
        self.locked = False
        self._value = value
        self.resolver = None
        self._parentbag = None  # the real one keeps it only with backrefs on
        self._node_subscribers = {}
        self._validators = None
        self.attr = dict(attr or {})

    def getValue(self):
        return self._value


class Bag(object):
    def __init__(self, source=None):
        self._nodes = []
        self._backref = False
        self._node = None
        self._parent = None
        self._symbols = None
        self._upd_subscribers = {}
        self._ins_subscribers = {}
        self._del_subscribers = {}
        self._modified = None
        self._rootattributes = None
        self._template_kwargs = {}
        for label, value in (source or {}).items():
            self.setItem(label, value)

    def _node_at(self, label):
        for node in self._nodes:
            if node.label == label:
                return node
        return None

    def _walk(self, path, create):
        """Return (bag, last label) for path, creating intermediate Bags when create."""
        labels = path.split(".")
        bag = self
        for label in labels[:-1]:
            node = bag._node_at(label)
            if node is None or not isinstance(node._value, Bag):
                if not create:
                    return None, None
                if node is None:
                    node = BagNode(bag, label, Bag())
                    bag._nodes.append(node)
                else:
                    node._value = Bag()
            bag = node._value
        return bag, labels[-1]

    def getItem(self, path, default=None):
        bag, label = self._walk(path, False)
        if bag is None:
            return default
        node = bag._node_at(label)
        return default if node is None else node._value

    __getitem__ = getItem

    def getNode(self, path):
        bag, label = self._walk(path, False)
        return None if bag is None else bag._node_at(label)

    def setItem(self, path, value, _attributes=None, **kwargs):
        bag, label = self._walk(path, True)
        node = bag._node_at(label)
        if node is None:
            bag._nodes.append(BagNode(bag, label, value, _attributes))
        else:
            node._value = value
            if _attributes:
                node.attr.update(_attributes)

    __setitem__ = setItem

    def pop(self, path, dflt=None):
        bag, label = self._walk(path, False)
        if bag is None:
            return dflt
        node = bag._node_at(label)
        if node is None:
            return dflt
        bag._nodes.remove(node)
        return node._value

    delItem = pop

    def keys(self):
        return [node.label for node in self._nodes]

    def clear(self):
        self._nodes = []

    def __len__(self):
        return len(self._nodes)

    def __contains__(self, path):
        bag, label = self._walk(path, False)
        return bag is not None and bag._node_at(label) is not None
