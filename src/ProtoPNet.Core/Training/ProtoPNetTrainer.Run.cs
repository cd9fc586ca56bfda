using System.Diagnostics;
using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using ProtoPNet.Evaluation;
using ProtoPNet.Optimization;
using ProtoPNet.Runtime;

namespace ProtoPNet.Training;

// One training run: the epochs of every phase, model selection on the validation set, checkpoints.
public static partial class ProtoPNetTrainer
{
    private sealed class Run : IDisposable
    {
        private readonly ProtoPNetModel model;
        private readonly ProtoPNetNetwork network;
        private readonly ImageDataset train;
        private readonly ImageDataset? validation;
        private readonly TrainingOptions options;
        private readonly TrainingCallbacks callbacks;
        private readonly CancellationToken cancel;
        private readonly BatchReader reader;
        private readonly List<TrainingEpochResult> results = new();
        private readonly int totalEpochs;
        private readonly string? checkpointPath;
        private NetworkState? best;
        private int? bestEpoch;
        private double? bestAccuracy;
        private FeatureCache? cache;
        private IReadOnlyList<SkippedItem> reusedSkipped = [];

        /// <summary>Frozen-backbone epochs read cached features: the images do not change between epochs (no online
        /// augmentation), the frozen BatchNorm normalizes with fixed statistics, and a cache is allowed.</summary>
        private bool CachesFrozenFeatures =>
            options.Augmentation is null && options.WarmBatchNorm == WarmBatchNorm.Frozen && options.FeatureCacheBytes > 0;
        private PooledHead? pooledHead;
        private int seed;

        public Run(ProtoPNetModel model, ImageDataset train, ImageDataset? validation, TrainingOptions options, TrainingCallbacks callbacks, CancellationToken cancel)
        {
            this.model = model;
            network = model.Network;
            this.train = train;
            this.validation = validation;
            this.options = options;
            this.callbacks = callbacks;
            this.cancel = cancel;
            reader = new BatchReader(train, model.ImageSize, model.Normalization) { Augmentation = options.Augmentation };
            totalEpochs = options.Phases.Sum(p => p.Epochs);
            checkpointPath = options.CheckpointDirectory is null ? null : Path.Combine(options.CheckpointDirectory, CheckpointFileName);
        }

        public TrainingSummary Execute()
        {
            int completed = 0;
            byte[]? optimizerState = null;
            int optimizerPhase = -1;
            seed = options.Seed ?? Random.Shared.Next();
            reader.AugmentationSeed = seed;
            if (options.Resume && checkpointPath is not null && File.Exists(checkpointPath))
            {
                var checkpoint = TrainingCheckpoint.Load(checkpointPath);
                checkpoint.ApplyTo(model, options, totalEpochs);
                if (options.Seed is int s && s != checkpoint.State.Seed)
                    callbacks.Warning?.Invoke($"The checkpoint was trained with seed {checkpoint.State.Seed}; resuming with it, not {s}.");
                seed = checkpoint.State.Seed;
                reader.AugmentationSeed = seed;
                completed = checkpoint.State.CompletedEpochs;
                results.AddRange(checkpoint.State.Results);
                bestEpoch = checkpoint.State.BestEpoch;
                bestAccuracy = checkpoint.State.BestValidationAccuracy;
                best = checkpoint.TakeBest();
                optimizerState = checkpoint.OptimizerState;
                optimizerPhase = checkpoint.State.OptimizerPhase;
                if (checkpoint.RngState is not null) torch.set_rng_state(checkpoint.RngState);
                if (checkpoint.State.AuxiliaryWeight is { } auxWeight && checkpoint.State.AuxiliaryBias is { } auxBias)
                    pooledHead = PooledHead.FromState(auxWeight, auxBias, network.Backbone.OutChannels, model.ClassCount, model.Device);
                checkpoint.Dispose();
                callbacks.Verbose?.Invoke($"Resuming from '{checkpointPath}' after epoch {completed} of {totalEpochs}.");
            }
            else
            {
                if (options.Resume)
                    callbacks.Warning?.Invoke($"No checkpoint at '{checkpointPath}'; starting from epoch 1.");
                torch.manual_seed(seed);
            }
            int resumedFrom = completed;
            // Created after seeding, so that a run and its resumption draw the same initial head.
            if (pooledHead is null && options.Phases.Any(p => p.Epochs > 0 && p.PooledHead))
                pooledHead = PooledHead.Create(network.Backbone.OutChannels, model.ClassCount, model.Device);
            bool backboneTrainedBefore = model.BackboneIsTrained;

            bool wasTraining = network.training;
            var wasTrainable = network.parameters().Select(p => p.requires_grad).ToArray();
            var wasPrecision = network.BackbonePrecision;
            try
            {
                network.BackbonePrecision = options.Precision;
                // Backbone features the model kept from an earlier run serve this run's frozen epochs when they can;
                // otherwise they go. A run that reuses them reads no image: it reports the images they left out.
                if (model.TakeFeatures() is { } kept)
                {
                    if (CachesFrozenFeatures && kept.Bytes <= options.FeatureCacheBytes && kept.Matches(network, train))
                        (cache, reusedSkipped) = (kept, kept.Skipped);
                    else kept.Dispose();
                }
                int epochStart = 0;
                for (int phaseIndex = 0; phaseIndex < options.Phases.Count; phaseIndex++)
                {
                    var phase = options.Phases[phaseIndex];
                    int phaseEnd = epochStart + phase.Epochs;
                    if (completed < phaseEnd)
                    {
                        RunPhase(phase, phaseIndex, epochStart, ref completed, phaseIndex == optimizerPhase ? optimizerState : null);
                    }
                    epochStart = phaseEnd;
                }
            }
            finally
            {
                network.BackbonePrecision = wasPrecision;
                int i = 0;
                foreach (var p in network.parameters()) p.requires_grad = wasTrainable[i++];
                if (wasTraining) network.train(); else network.eval();
            }

            // Judged before the history records this run: a backbone that starts random is judged as random.
            if (completed > resumedFrom && ChanceCheck.Warning(results, train.CountPerClass(), options, backboneTrainedBefore) is string atChance)
                callbacks.Warning?.Invoke(atChance);

            bool restored = false;
            if (best is not null && bestEpoch is int be && be != completed)
            {
                best.Restore(network);
                restored = true;
                callbacks.Verbose?.Invoke($"Restored the weights of epoch {be}, the best on the validation set ({bestAccuracy:P2}).");
            }
            // A run that ends with the backbone frozen leaves its features to the push (and the runs) that follow, while
            // they still match: not after a restored epoch with another backbone, nor when trained at another precision.
            if (cache is not null && cache.Matches(network, train))
            {
                model.KeepFeatures(cache);
                cache = null;
            }
            model.History.Add(new HistoryEntry
            {
                Stage = "Training",
                Values = HistoryEntry.Finite(new Dictionary<string, double>
                {
                    ["Epochs"] = completed,
                    ["FinalTrainAccuracy"] = results.Count > 0 ? results[^1].TrainAccuracy : double.NaN,
                    ["BestEpoch"] = bestEpoch ?? completed,
                    ["BestValidationAccuracy"] = bestAccuracy ?? double.NaN,
                }),
                Note = string.Join(", ", options.Phases.Select(p => $"{p.Name} {p.Epochs}")) + $"; batch {options.BatchSize}; seed {seed}" +
                       (restored ? $"; kept epoch {bestEpoch} (best validation accuracy)" : ""),
            });
            return new TrainingSummary
            {
                Epochs = results.ToArray(),
                BestEpoch = bestEpoch,
                BestValidationAccuracy = bestAccuracy,
                RestoredBest = restored,
                ResumedFromEpoch = resumedFrom,
                Seed = seed,
                Skipped = reader.Skipped.Concat(reusedSkipped).DistinctBy(x => x.Index).ToArray(),
            };
        }

        private void RunPhase(TrainingPhase phase, int phaseIndex, int epochStart, ref int completed, byte[]? optimizerState)
        {
            // The phase's tensors (the optimizer's state among them) live in this scope, each epoch's in the one below;
            // what outlives them (the best weights, the feature cache) is detached where it is made. No tensor of a run is
            // made outside a scope (docs/performance.md, "Object lifetimes").
            using var phaseScope = NewDisposeScope();
            ParameterGroups.SetTrainable(network, phase.Groups.Select(g => g.Group));
            bool backboneTrains = phase.Trains(ParameterGroup.Backbone);
            if (backboneTrains) DisposeCache();   // the backbone is about to change: its cached output would be stale
            var groups = phase.Groups.Select(g => new Adam.ParamGroup(ParameterGroups.Of(network, g.Group).ToArray(),
                g.LearningRate, 0.9, 0.999, 1e-8, g.WeightDecay, false, false)).ToList();
            // The pooled head learns at the backbone's rate, in the backbone phase.
            var backboneGroup = phase.Groups.FirstOrDefault(g => g.Group == ParameterGroup.Backbone);
            if (pooledHead is not null && backboneGroup is not null && phase.PooledHead)
                groups.Add(new Adam.ParamGroup(pooledHead.Parameters, backboneGroup.LearningRate, 0.9, 0.999, 1e-8, 0, false, false));
            using var optimizer = new FusedAdam(groups, phase.Groups[0].LearningRate);
            if (optimizerState is not null) optimizer.LoadState(optimizerState);
            // While the backbone trains, its weights and their optimizer state are kept in the layout it computes in.
            using var layout = backboneTrains ? ChannelsLastWeights.Apply(network.Backbone, optimizer) : null;
            for (int phaseEpoch = completed - epochStart; phaseEpoch < phase.Epochs; phaseEpoch++)
            {
                cancel.ThrowIfCancellationRequested();
                using var epochScope = NewDisposeScope();
                int epoch = epochStart + phaseEpoch + 1;
                double factor = phase.LearningRateFactor(phaseEpoch);
                int g = 0;
                // Groups in the order built: the phase's, then the pooled head's (which follows the backbone's rate).
                var rates = phase.Groups.Select(x => x.LearningRate).Append(phase.Groups.FirstOrDefault(x => x.Group == ParameterGroup.Backbone)?.LearningRate ?? 0).ToArray();
                foreach (var group in optimizer.ParamGroups) group.LearningRate = rates[g++] * factor;

                // A frozen backbone's output is reused across epochs only when the images do not change between them
                // and its BatchNorm normalizes with fixed statistics.
                if (!backboneTrains && cache is null && CachesFrozenFeatures)
                    cache = FeatureCache.TryBuild(network, reader, train, options.EvaluationBatchSize, options.FeatureCacheBytes,
                        model.ImageSize, model.Device, EpochProgress(epoch, phase), cancel);
                var result = phase.PooledHead ? RunPooledEpoch(epoch, phase, optimizer) : RunEpoch(epoch, phase, optimizer, backboneTrains);
                completed = epoch;
                results.Add(result);
                if (checkpointPath is not null)
                    using (layout?.Pause()) SaveCheckpoint(completed, phaseIndex, optimizer);   // Adam's writer wants contiguous moments
                callbacks.EpochCompleted?.Invoke(result);
            }
        }

        /// <summary>The run's progress for a Core stage inside <paramref name="epoch"/> (the frozen-backbone cache, validation):
        /// the stage's reports with the epoch filled in, and its activity replaced by <paramref name="activity"/> if given.</summary>
        private IProgress<StageProgress>? EpochProgress(int epoch, TrainingPhase phase, string? activity = null) =>
            callbacks.Progress is { } progress
                ? new ProgressCallback(p => progress.Report(p with { Epoch = epoch, TotalEpochs = totalEpochs, Phase = phase.Name, Activity = activity ?? p.Activity }))
                : null;

        private TrainingEpochResult RunEpoch(int epoch, TrainingPhase phase, Adam optimizer, bool backboneTrains)
        {
            BatchLoss LossOf(Tensor images, Tensor labels)
            {
                Tensor logits, minDistances;
                if (backboneTrains)
                {
                    (logits, minDistances) = network.ForwardNearest(network.BackboneFeatures(images));
                }
                else
                {
                    Tensor features;
                    if (cache is not null) features = images; // already the backbone's output
                    else using (torch.no_grad()) features = network.BackboneFeatures(images);
                    (logits, minDistances) = network.ForwardNearest(features);
                }
                // Not disposed here: the batch's dispose scope frees them all.
                var terms = ProtoPNetLoss.Compute(logits, minDistances, labels,
                    network.PrototypeClassIdentity, network.LastLayer.weight!, options.Coefficients);
                var values = torch.stack([terms.Total.detach(), terms.CrossEntropy.detach(), terms.Cluster.detach(), terms.Separation.detach(), terms.L1.detach()])
                    .cpu().data<float>().ToArray();
                return new BatchLoss(terms.Total, logits, values);
            }
            EpochSums sums;
            // A frozen backbone without the cache is an inference pass per batch: its prepared weights last the epoch
            // (docs/performance.md, "Inference weights"; BatchNorm in training mode bypasses them).
            using (!backboneTrains && cache is null ? InferenceScope.Begin(network) : null)
                sums = RunBatches(epoch, phase, optimizer, backboneTrains, valueCount: 5, LossOf,
                    v => $"The loss became {v[0]} (cross-entropy {v[1]}, cluster {v[2]}, separation {v[3]}, L1 {v[4]})",
                    (checkpointPath is not null ? $"The last good checkpoint is kept at '{checkpointPath}'. " : "") +
                    "Lower the learning rates or check the data for invalid values.");

            double? validationAccuracy = null;
            if (validation is not null)
            {
                validationAccuracy = ModelEvaluator.Evaluate(model, validation, options.EvaluationBatchSize,
                    progress: EpochProgress(epoch, phase, "Validating"), cancel: cancel).Accuracy;
            }
            bool isBest = validationAccuracy is double acc && (bestAccuracy is null || acc > bestAccuracy);
            if (isBest)
            {
                best?.Dispose();
                best = NetworkState.Capture(network);
                bestEpoch = epoch;
                bestAccuracy = validationAccuracy;
            }
            double n = Math.Max(1, sums.Seen);
            return new TrainingEpochResult
            {
                Epoch = epoch,
                Phase = phase.Name,
                Loss = sums.Values[0] / n,
                CrossEntropy = sums.Values[1] / n,
                Cluster = sums.Values[2] / n,
                Separation = sums.Values[3] / n,
                L1 = sums.Values[4] / n,
                TrainAccuracy = sums.Correct / n,
                ValidationAccuracy = validationAccuracy,
                Seconds = sums.Seconds,
                ImagesPerSecond = sums.Seen / Math.Max(1e-9, sums.Seconds),
                IsBest = isBest,
                BackboneCached = cache is not null && !phase.Trains(ParameterGroup.Backbone),
            };
        }

        /// <summary>An epoch of a <see cref="TrainingPhase.PooledHead"/> phase: the backbone learns as a plain classifier's.</summary>
        private TrainingEpochResult RunPooledEpoch(int epoch, TrainingPhase phase, Adam optimizer)
        {
            BatchLoss LossOf(Tensor images, Tensor labels)
            {
                var logits = pooledHead!.Logits(network.BackboneFeatures(images));
                var crossEntropy = nn.functional.cross_entropy(logits, labels);
                return new BatchLoss(crossEntropy, logits, [crossEntropy.detach().cpu().item<float>()]);
            }
            var sums = RunBatches(epoch, phase, optimizer, backboneTrains: true, valueCount: 1, LossOf,
                v => $"The backbone phase's cross-entropy became {v[0]}",
                "Lower -BackboneLearningRate or check the data for invalid values.");
            double n = Math.Max(1, sums.Seen);
            return new TrainingEpochResult
            {
                Epoch = epoch,
                Phase = phase.Name,
                Loss = sums.Values[0] / n,
                // The pooled head's cross-entropy: the ProtoPNet head takes no part in this phase.
                CrossEntropy = sums.Values[0] / n,
                Cluster = double.NaN,
                Separation = double.NaN,
                L1 = double.NaN,
                TrainAccuracy = sums.Correct / n,
                Seconds = sums.Seconds,
                ImagesPerSecond = sums.Seen / Math.Max(1e-9, sums.Seconds),
            };
        }

        /// <summary>One batch's loss: what the step minimizes, the logits its accuracy is counted on, and the values the
        /// epoch averages (the first is the loss itself; all must be finite).</summary>
        private readonly record struct BatchLoss(Tensor Total, Tensor Logits, float[] Values);

        /// <summary>What an epoch's batches add up to: images, correct predictions, the image-weighted sums of the loss
        /// values, and the seconds the epoch took.</summary>
        private sealed record EpochSums(long Seen, long Correct, double[] Values, double Seconds);

        /// <summary>
        /// The batch loop of both kinds of epoch, which differ only in <paramref name="lossOf"/>: per batch the loss is
        /// computed and checked (a value that is not finite stops training before the update, with
        /// <paramref name="describeNonFinite"/>'s wording and <paramref name="advice"/>), stepped, counted, and reported.
        /// A resumed run must replay these operations in this order to end bit for bit where an uninterrupted run does.
        /// </summary>
        private EpochSums RunBatches(int epoch, TrainingPhase phase, Adam optimizer, bool backboneTrains, int valueCount,
            Func<Tensor, Tensor, BatchLoss> lossOf, Func<float[], string> describeNonFinite, string advice)
        {
            var clock = Stopwatch.StartNew();
            ParameterGroups.SetTrainingMode(network, backboneInTrainMode: backboneTrains || options.WarmBatchNorm == WarmBatchNorm.Train);
            var order = ShuffleOrder(seed, epoch, train.Count);
            reader.PassesRead = epoch - 1; // this epoch's images are augmented as pass `epoch`, resumed or not
            if (cache is not null) order = order.Where(cache.Contains).ToArray();
            int batchCount = (order.Length + options.BatchSize - 1) / options.BatchSize;
            var sums = new double[valueCount];
            long seen = 0, correct = 0;
            int batchNumber = 0;
            foreach (var (input, labels, size) in Batches(order))
            {
                batchNumber++;
                using var scope = NewDisposeScope();
                var loss = lossOf(input, labels);
                if (!loss.Values.All(float.IsFinite))
                    throw new ProtoPNetException("NonFiniteLoss", ErrorKind.InvalidOperation,
                        $"{describeNonFinite(loss.Values)} at epoch {epoch}, batch {batchNumber} of {batchCount}; training stopped before the update. " + advice, epoch);
                optimizer.zero_grad();
                loss.Total.backward();
                optimizer.step();

                correct += loss.Logits.argmax(1).eq(labels).sum().item<long>();
                seen += size;
                for (int i = 0; i < sums.Length; i++) sums[i] += loss.Values[i] * size;
                // The batch comes from outside the scope; what the loss made is freed with the scope.
                input.Dispose();
                labels.Dispose();

                ReportBatch(epoch, phase, batchNumber, batchCount, seen, order.Length, clock);
                cancel.ThrowIfCancellationRequested();
            }
            return new EpochSums(seen, correct, sums, clock.Elapsed.TotalSeconds);
        }

        /// <summary>Progress after a training batch: images/s so far and the time left over this and the remaining epochs.</summary>
        private void ReportBatch(int epoch, TrainingPhase phase, int batchNumber, int batchCount, long seen, int epochImages, Stopwatch clock)
        {
            double rate = seen / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
            long remainingImages = (epochImages - seen) + (long)(totalEpochs - epoch) * epochImages;
            callbacks.Progress?.Report(new StageProgress(batchNumber, batchCount, "Training")
            {
                Epoch = epoch,
                TotalEpochs = totalEpochs,
                Phase = phase.Name,
                ImagesPerSecond = rate,
                Remaining = TimeSpan.FromSeconds(remainingImages / Math.Max(1e-9, rate)),
            });
        }

        /// <summary>Batches of (input, labels, size): images from the reader, or cached backbone features.</summary>
        private IEnumerable<(Tensor Input, Tensor Labels, int Size)> Batches(int[] order)
        {
            if (cache is not null)
            {
                for (int start = 0; start < order.Length; start += options.BatchSize)
                {
                    var slice = order.AsSpan(start, Math.Min(options.BatchSize, order.Length - start)).ToArray();
                    var (features, labels) = cache.Gather(slice);
                    yield return (features, labels, slice.Length);
                }
                yield break;
            }
            foreach (var batch in reader.Read(order, options.BatchSize, model.Device, cancel))
                yield return (batch.Images, batch.Labels, batch.Indices.Length);
        }

        private void SaveCheckpoint(int completed, int phaseIndex, Adam optimizer)
        {
            byte[] optimizerBytes;
            using (var buffer = new MemoryStream())
            {
                using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
                optimizerBytes = buffer.ToArray();
            }
            var state = new CheckpointState
            {
                Seed = seed,
                CompletedEpochs = completed,
                OptimizerPhase = phaseIndex,
                BatchSize = options.BatchSize,
                Phases = options.Phases.Select(p => $"{p.Name}:{p.Epochs}").ToArray(),
                BestEpoch = bestEpoch,
                BestValidationAccuracy = bestAccuracy,
                Results = results.ToList(),
                AuxiliaryWeight = pooledHead?.WeightValues(),
                AuxiliaryBias = pooledHead?.BiasValues(),
            };
            // Not cancellable: a finished epoch is always saved (the write takes milliseconds and is atomic anyway).
            TrainingCheckpoint.Save(checkpointPath!, model, state, optimizerBytes, best, CancellationToken.None);
        }

        private void DisposeCache()
        {
            cache?.Dispose();
            cache = null;
        }

        public void Dispose()
        {
            DisposeCache();
            best?.Dispose();
            pooledHead?.Dispose();
        }
    }
}
