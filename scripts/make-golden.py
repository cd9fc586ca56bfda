"""Writes the golden files that tests/ProtoPNet.Core.Tests/GoldenFileTests.cs compares TorchSharp against.

Run by developers, not CI:  /usr/bin/python3 scripts/make-golden.py  (Debian's python3-torch).
Everything is computed from DESIGN §3's formulas in plain PyTorch, independently of ProtoPNet.PS's code:
distances by explicit differences over unfolded patches (not the conv trick), losses term by term.
"""
import os
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(20191208)
out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'golden')
os.makedirs(out_dir, exist_ok=True)

CLASSES, PER_CLASS, DEPTH, PATCH, EPS = 3, 2, 32, 2, 1e-4


class SmallCnn(nn.Module):
    """ProtoPNet.PS's 'smallcnn' backbone, same layer names."""
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential()
        for i, (cin, cout) in enumerate([(3, 32), (32, 32), (32, 64), (64, 128)], start=1):
            self.features.add_module(f'conv{i}', nn.Conv2d(cin, cout, 3, padding=1, bias=False))
            self.features.add_module(f'bn{i}', nn.BatchNorm2d(cout))
            self.features.add_module(f'relu{i}', nn.ReLU(inplace=True))
            if i in (2, 4):
                self.features.add_module(f'pool{i // 2}', nn.MaxPool2d(2, 2))

    def forward(self, x):
        return self.features(x)


def bottleneck(c, d):
    layers = []
    while c > d or not layers:
        o = max(d, c // 2)
        layers += [nn.Conv2d(c, o, 1), nn.ReLU(), nn.Conv2d(o, o, 1)]
        if o > d:
            layers.append(nn.ReLU())
        else:
            layers.append(nn.Sigmoid())
            break
        c //= 2
    return nn.Sequential(*layers)


class TinyProtoPNet(nn.Module):
    def __init__(self):
        super().__init__()
        m = CLASSES * PER_CLASS
        self.features = SmallCnn()
        self.add_on_layers = bottleneck(128, DEPTH)
        self.prototype_vectors = nn.Parameter(torch.rand(m, DEPTH, PATCH, PATCH))
        self.last_layer = nn.Linear(m, CLASSES, bias=False)
        identity = torch.zeros(m, CLASSES)
        identity[torch.arange(m), torch.arange(m) // PER_CLASS] = 1
        self.register_buffer('prototype_class_identity', identity)


net = TinyProtoPNet()
with torch.no_grad():
    # Non-trivial batch-norm statistics and last-layer weights, so every term is exercised.
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.weight.uniform_(1.0, 3.0)
            module.bias.uniform_(-0.2, 0.2)
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    net.last_layer.weight.copy_(net.prototype_class_identity.t() - 0.5 * (1 - net.prototype_class_identity.t())
                                + 0.1 * torch.randn(CLASSES, CLASSES * PER_CLASS))
net.eval()
# Four clearly different images (contrast and brightness differ), so their latents differ too.
x = torch.rand(4, 3, 28, 28) * torch.tensor([0.3, 1.0, 2.0, 0.6]).view(4, 1, 1, 1) + torch.tensor([0.0, -0.5, 0.3, 1.0]).view(4, 1, 1, 1)
y = torch.tensor([0, 1, 2, 1])
with torch.no_grad():
    # Prototypes near real latent patches (as after push), so distances are small and similarities large:
    # the comparison then tests the arithmetic where it matters, not float32 cancellation near log(1).
    # Half of them from the test batch's own images (near-zero distances there), half from another image.
    x_for_prototypes = torch.cat([x[:2], torch.rand(1, 3, 28, 28)])
    cells = F.unfold(net.add_on_layers(net.features(x_for_prototypes)), PATCH)   # [3, D·P·P, L]
    m = CLASSES * PER_CLASS
    source, where = torch.arange(m) % 3, torch.randint(0, cells.shape[2], (m,))
    picked = cells[source, :, where] + 0.01 * torch.randn(m, cells.shape[1])
    net.prototype_vectors.copy_(picked.reshape(m, DEPTH, PATCH, PATCH))

# The comparison runs in float64 on both sides (weights and input are saved as float32 and widened exactly),
# so the test measures formula agreement, not float32 rounding of the conv-trick distance.
net_state = {k: v.clone() for k, v in net.state_dict().items()}
net.double()
with torch.no_grad():
    z = net.add_on_layers(net.features(x.double()))                         # [N, D, 7, 7]
    patches = F.unfold(z, PATCH)                                    # [N, D·P·P, L]
    protos = net.prototype_vectors.reshape(CLASSES * PER_CLASS, -1)  # [m, D·P·P]
    distances = ((patches[:, None, :, :] - protos[None, :, :, None]) ** 2).sum(2)  # [N, m, L]
    min_distances = distances.min(2).values
    similarities = torch.log((min_distances + 1) / (min_distances + EPS))
    logits = similarities @ net.last_layer.weight.t()
    identity = net.prototype_class_identity
    own = identity[:, y].t().bool()                                 # [N, m]: prototype j is of image i's class
    ce = F.cross_entropy(logits, y)
    cluster = min_distances.masked_fill(~own, float('inf')).min(1).values.mean()
    separation = min_distances.masked_fill(own, float('inf')).min(1).values.mean()
    l1 = (net.last_layer.weight * (1 - identity.t())).abs().sum()
    total = ce + 0.8 * cluster - 0.08 * separation + 1e-4 * l1

torch.save(net_state, os.path.join(out_dir, 'tiny-protopnet.pth'))
torch.save({
    'input': x, 'labels': y, 'logits': logits, 'min_distances': min_distances, 'similarities': similarities,
    'cross_entropy': ce.reshape(1), 'cluster': cluster.reshape(1), 'separation': separation.reshape(1),
    'l1': l1.reshape(1), 'total': total.reshape(1),
}, os.path.join(out_dir, 'tiny-protopnet-expected.pth'))
print('golden files written; logits[0] =', logits[0].tolist(), 'total loss =', total.item())
