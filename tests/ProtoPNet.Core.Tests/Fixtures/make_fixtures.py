"""Writes tiny weights files byte-for-byte as PyTorch and the safetensors library write them, without either installed.

tiny-torch.pth:          what torch.save(model.state_dict(), 'tiny-torch.pth') writes (zip; pickle protocol 2 with
                         persistent storage ids, torch._utils._rebuild_tensor_v2, an OrderedDict carrying _metadata).
tiny.safetensors:        what safetensors.torch.save_file writes (header padded with spaces to 8 bytes,
                         __metadata__ entry, tensors sorted by alignment then name).
The model: conv1 = Conv2d(3, 4, 3, bias=False), bn1 = BatchNorm2d(4), plus a classifier fc = Linear(4, 2).
Element k of tensor `name` is float32(((k * 31 + len(name)) % 1000) / 1000); num_batches_tracked is 42.
Run with python3 from this folder; the xunit tests recompute the values.
"""
import collections, io, json, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils"); torch._utils = utils
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils

def _storage_class(name):
    cls = type(name, (), {}); cls.__module__ = "torch"; cls.__qualname__ = name; setattr(torch, name, cls); return cls
FloatStorage, LongStorage = _storage_class("FloatStorage"), _storage_class("LongStorage")

def _rebuild_tensor_v2(*args): raise NotImplementedError
_rebuild_tensor_v2.__module__ = "torch._utils"; utils._rebuild_tensor_v2 = _rebuild_tensor_v2

class Storage:
    def __init__(self, kind, data, numel): self.kind, self.data, self.numel = kind, data, numel

class Tensor:
    def __init__(self, name, shape, long_value=None):
        numel = 1
        for d in shape: numel *= d
        if long_value is None:
            data = b"".join(struct.pack("<f", ((k * 31 + len(name)) % 1000) / 1000.0) for k in range(numel))
            self.storage, self.dtype = Storage(FloatStorage, data, numel), "F32"
        else:
            self.storage, self.dtype = Storage(LongStorage, struct.pack("<q", long_value), 1), "I64"
        self.shape = tuple(shape)
        stride, s = [], 1
        for d in reversed(shape): stride.insert(0, s); s *= d
        self.stride = tuple(stride)
    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor_v2, (self.storage, 0, self.shape, self.stride, False, collections.OrderedDict()))

shapes = collections.OrderedDict([
    ("conv1.weight", (4, 3, 3, 3)), ("bn1.weight", (4,)), ("bn1.bias", (4,)), ("bn1.running_mean", (4,)),
    ("bn1.running_var", (4,)), ("bn1.num_batches_tracked", ()), ("fc.weight", (2, 4)), ("fc.bias", (2,))])

def state_dict(rename=lambda n: n):
    sd = collections.OrderedDict()
    for name, shape in shapes.items():
        sd[rename(name)] = Tensor(name, shape, 42 if name.endswith("num_batches_tracked") else None)
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("conv1", {"version": 1}), ("bn1", {"version": 2}), ("fc", {"version": 1})])
    return sd

def torch_save(sd, path):
    storages = []
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                storages.append(obj)
                return ("storage", obj.kind, str(len(storages) - 1), "cpu", obj.numel)
            return None
    buffer = io.BytesIO(); Pickler(buffer, protocol=2).dump(sd)
    stem = "tiny-torch"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{stem}/data.pkl", buffer.getvalue())
        z.writestr(f"{stem}/.format_version", "1")
        z.writestr(f"{stem}/.storage_alignment", "64")
        z.writestr(f"{stem}/byteorder", "little")
        for i, s in enumerate(storages): z.writestr(f"{stem}/data/{i}", s.data)
        z.writestr(f"{stem}/version", "3\n")
        z.writestr(f"{stem}/.data/serialization_id", "0259157471163218459400000000000000000000")

def save_safetensors(sd, path):
    items = sorted(sd.items(), key=lambda kv: (-(8 if kv[1].dtype == "I64" else 4), kv[0]))
    header, offset, blobs = {}, 0, []
    for name, t in items:
        header[name] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(t.storage.data)]}
        offset += len(t.storage.data); blobs.append(t.storage.data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f: f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

torch_save(state_dict(), "tiny-torch.pth")
save_safetensors(state_dict(), "tiny.safetensors")
