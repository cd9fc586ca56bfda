using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Projection;

/// <summary>How push looks for each prototype's nearest patch.</summary>
public enum PushSearch
{
    /// <summary>Every patch of every push-set image, float32 network and float64 distances: the nearest patch, exactly.</summary>
    Exact,
    /// <summary>
    /// A bfloat16 copy of the backbone and add-on passes over the push set once and shortlists, per prototype, the images
    /// whose patches come nearest; the exact search then runs over the shortlisted images only. The pushed prototypes are
    /// exact latent patches either way; they are the nearest ones whenever each prototype's nearest image made its
    /// shortlist (bfloat16 keeps about three significant digits of a distance). When the model keeps its frozen
    /// backbone's features of the push set (training ended with the backbone frozen), the exact search runs instead:
    /// from those features it is the faster one.
    /// </summary>
    Shortlist,
}

/// <summary>The reduced-precision first pass of <see cref="PushSearch.Shortlist"/>.</summary>
internal static class CandidateShortlist
{
    /// <summary>Images kept per prototype: 8 up to 256 prototypes, fewer beyond (the exact pass must stay small).</summary>
    public static int PerPrototype(int prototypeCount) => prototypeCount <= 256 ? 8 : Math.Max(2, 2048 / prototypeCount);

    /// <summary>Indices into <paramref name="dataset"/> of the images on any prototype's shortlist, ascending; and the images read.</summary>
    public static (int[] Images, int Read, int Skipped) Find(ProtoPNetModel model, ImageDataset dataset, int batchSize,
        IProgress<StageProgress>? progress, CancellationToken cancel)
    {
        var network = model.Network;
        var architecture = model.Architecture;
        int m = model.PrototypeCount, keep = PerPrototype(m);
        var device = model.Device;
        // The copies are made outside any dispose scope: they own their parameters and are disposed below.
        var backbone = BackboneFactory.Create(architecture.Backbone, pretrained: false);
        var addOn = AddOnLayers.Create(architecture.AddOn, backbone.OutChannels, architecture.PrototypeDepth);
        backbone.load_state_dict(network.Backbone.state_dict());
        addOn.load_state_dict(network.AddOn.state_dict());
        backbone.to(ScalarType.BFloat16).to(device).eval();
        addOn.to(ScalarType.BFloat16).to(device).eval();
        try
        {
            using var noGrad = torch.no_grad();
            using var scope = NewDisposeScope();
            var prototypes = network.Prototypes.detach().to(ScalarType.Float32);
            var prototypeClass = torch.tensor(model.PrototypeClass.Select(c => (long)c).ToArray(), device: device);
            var bestDistance = torch.empty([m, 0], dtype: ScalarType.Float32, device: device);
            var bestImage = torch.empty([m, 0], dtype: ScalarType.Int64, device: device);
            var reader = new BatchReader(dataset, model.ImageSize, model.Normalization);
            int seen = 0;
            foreach (var batch in reader.Read(Enumerable.Range(0, dataset.Count).ToArray(), batchSize, device, cancel))
            {
                using (batch)
                using (var batchScope = NewDisposeScope())
                {
                    var images = batch.Images.to(ScalarType.BFloat16);
                    var z = addOn.forward(backbone.forward(images)).to(ScalarType.Float32);
                    var nearest = PrototypeDistances.MinOverPatches(PrototypeDistances.Compute(z, prototypes)).t();   // [m, B]
                    var ownClass = prototypeClass.view(-1, 1).eq(batch.Labels.view(1, -1));                        // [m, B]
                    var distances = torch.cat([bestDistance, nearest.MaskedFill(ownClass.logical_not(), float.PositiveInfinity)], 1);
                    var ids = torch.tensor(batch.Indices.Select(i => (long)i).ToArray(), device: device).view(1, -1).expand(m, -1);
                    var candidates = torch.cat([bestImage, ids], 1);
                    var (values, order) = distances.topk(Math.Min(keep, (int)distances.shape[1]), dim: 1, largest: false);
                    bestDistance = values.MoveToOuterDisposeScope();
                    bestImage = candidates.gather(1, order).MoveToOuterDisposeScope();
                    seen += batch.Indices.Length;
                }
                progress?.Report(new StageProgress(seen, dataset.Count, "Shortlisting candidate images (bfloat16)"));
            }
            var finite = bestDistance.isfinite();
            var shortlist = bestImage.masked_select(finite).cpu().data<long>().Select(i => (int)i).Distinct().Order().ToArray();
            return (shortlist, seen, reader.Skipped.Count);
        }
        finally
        {
            backbone.Dispose();
            addOn.Dispose();
        }
    }
}
