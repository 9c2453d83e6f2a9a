using WebLlm.Contracts;
using Microsoft.Extensions.Options;
using WebLlm.Server.Datasets;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Model;
using WebLlm.Training.Sampling;
using WebLlm.Training.Tokenization;

namespace WebLlm.Server.Inference;

/// <summary>
/// Models loaded from committed checkpoints for inference, each its own <see cref="Gpt"/> (never the training
/// model's tensors, so answers never see a half-applied update). Keyed by checkpoint folder and the write time
/// of its weights (a deleted run whose id comes back never gets the old model). Bounded by
/// <see cref="InferenceOptions.CacheBytes"/> of weights: the least recently used models beyond it are evicted
/// (a model in use is disposed when its last lease ends). One generation at a time per model.
/// </summary>
public sealed class InferenceCache(DatasetService datasets, IOptions<InferenceOptions> options) : IDisposable
{
    private readonly long budget = options.Value.CacheBytes;
    private readonly Lock gate = new();
    private readonly Lock loading = new(); // one load at a time, so two requests never load the same model twice
    private readonly LinkedList<Entry> entries = new(); // most recently used first

    /// <summary>Bytes of weights held by cached models.</summary>
    public long Bytes { get { lock (gate) return entries.Sum(e => e.Bytes); } }

    /// <summary>The cached (run, step) pairs, most recently used first.</summary>
    public IReadOnlyList<(int RunId, long Step)> Keys { get { lock (gate) return entries.Select(e => (e.RunId, e.Step)).ToList(); } }

    internal sealed class Entry(int runId, string key, long step, Gpt model, Tokenizer tokenizer)
    {
        public int RunId { get; } = runId;
        public string Key { get; } = key;
        public long Step { get; } = step;
        public Gpt Model { get; } = model;
        public Tokenizer Tokenizer { get; } = tokenizer;
        /// <summary>The model's sampler, kept with it so its decoder's helper thread is made once, not per request.</summary>
        public Sampler Sampler { get; } = new(model, tokenizer);
        public long Bytes { get; } = model.parameters().Sum(p => p.numel() * p.ElementSize);
        /// <summary>One generation at a time per model (the sampler switches it to eval mode and back).</summary>
        public SemaphoreSlim Use { get; } = new(1, 1);
        public int Leases; // guarded by the cache's gate
        public bool Evicted; // guarded by the cache's gate
    }

    /// <summary>A model with exclusive use until disposed.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly InferenceCache owner;
        private readonly Entry entry;
        private int released;

        internal Lease(InferenceCache owner, Entry entry)
        {
            this.owner = owner;
            this.entry = entry;
        }

        public Gpt Model => entry.Model;
        public Tokenizer Tokenizer => entry.Tokenizer;
        public Sampler Sampler => entry.Sampler;
        public long Step => entry.Step;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) owner.Release(entry);
        }
    }

    private static string KeyOf(CheckpointInfo checkpoint) =>
        checkpoint.Directory + "|" + File.GetLastWriteTimeUtc(Path.Combine(checkpoint.Directory, Checkpoint.ModelFile)).Ticks;

    /// <summary>
    /// Loads (or finds) the checkpoint's model and waits for exclusive use of it. Synchronous and meant for the
    /// generating thread: the model's tensors are created on the thread that loads them.
    /// </summary>
    public Lease Acquire(int runId, CheckpointInfo checkpoint, CancellationToken cancellationToken)
    {
        var entry = Find(runId, checkpoint) ?? Load(runId, checkpoint);
        try { entry.Use.Wait(cancellationToken); }
        catch
        {
            Release(entry, used: false);
            throw;
        }
        return new Lease(this, entry);
    }

    /// <summary>The cached entry with a lease taken, or null.</summary>
    private Entry? Find(int runId, CheckpointInfo checkpoint)
    {
        string key = KeyOf(checkpoint);
        lock (gate)
        {
            for (var node = entries.First; node is not null; node = node.Next)
            {
                if (node.Value.Key != key || node.Value.RunId != runId) continue;
                entries.Remove(node);
                entries.AddFirst(node);
                node.Value.Leases++;
                return node.Value;
            }
        }
        return null;
    }

    private Entry Load(int runId, CheckpointInfo checkpoint)
    {
        lock (loading)
        {
            if (Find(runId, checkpoint) is { } loaded) return loaded; // another request loaded it meanwhile
            Gpt model;
            CheckpointManifest manifest;
            try
            {
                (model, manifest) = Checkpoint.LoadModel(checkpoint.Directory);
            }
            catch (Exception e) when (e is CorruptCheckpointException or InvalidDataException)
            {
                // Damaged on disk after it was written (the write itself is atomic): say which, and how to go on.
                string reason = e is CorruptCheckpointException c ? c.Reason : e.Message.Replace(checkpoint.Directory, $"step {checkpoint.Step}", StringComparison.Ordinal);
                throw new GenerationException(503, ErrorCodes.CheckpointCorrupt,
                    $"Checkpoint step {checkpoint.Step} of run {runId} failed verification ({reason}); " +
                    "ask for an earlier step (model 'run@step' or 'step'), or wait for the next checkpoint.");
            }
            Tokenizer tokenizer;
            try
            {
                var vocab = manifest.Tokenizer.Kind == TokenizerSpec.Gpt2Kind ? datasets.GetGpt2VocabAsync(CancellationToken.None).GetAwaiter().GetResult() : null;
                tokenizer = Tokenizer.Create(manifest.Tokenizer, vocab);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            model.eval();
            var entry = new Entry(runId, KeyOf(checkpoint), checkpoint.Step, model, tokenizer) { Leases = 1 };
            var disposeNow = new List<Entry>();
            lock (gate)
            {
                entries.AddFirst(entry);
                long total = entries.Sum(e => e.Bytes);
                while (total > budget && entries.Last!.Value != entry)
                {
                    var old = entries.Last.Value;
                    entries.RemoveLast();
                    total -= old.Bytes;
                    old.Evicted = true;
                    if (old.Leases == 0) disposeNow.Add(old);
                }
            }
            foreach (var old in disposeNow) Destroy(old);
            return entry;
        }
    }

    private void Release(Entry entry, bool used = true)
    {
        if (used) entry.Use.Release();
        bool destroy;
        lock (gate) destroy = --entry.Leases == 0 && entry.Evicted;
        if (destroy) Destroy(entry);
    }

    private static void Destroy(Entry entry)
    {
        entry.Sampler.Dispose();
        entry.Model.Dispose();
        entry.Use.Dispose();
    }

    /// <summary>Drops every model of a run (it was deleted); models in use go when their generation ends.</summary>
    public void Forget(int runId) => Evict(e => e.RunId == runId);

    private void Evict(Func<Entry, bool> which)
    {
        var disposeNow = new List<Entry>();
        lock (gate)
        {
            foreach (var e in entries.Where(which).ToList())
            {
                entries.Remove(e);
                e.Evicted = true;
                if (e.Leases == 0) disposeNow.Add(e);
            }
        }
        foreach (var e in disposeNow) Destroy(e);
    }

    public void Dispose() => Evict(_ => true);
}
