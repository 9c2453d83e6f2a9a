using System.Diagnostics;
using WebLlm.Contracts;
using WebLlm.Server.Datasets;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Model;
using WebLlm.Training.Sampling;
using WebLlm.Training.Tokenization;

namespace WebLlm.Server.Inference;

/// <summary>Why a generation cannot run; endpoints map it to a ProblemDetails.</summary>
public sealed class GenerationException(int status, string code, string message, string? field = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public string? Field { get; } = field;
}

/// <summary>
/// Models loaded from committed checkpoints for inference, each its own <see cref="Gpt"/> (never the training
/// model's tensors, so answers never see a half-applied update). Keyed by (run, step); the least recently used
/// beyond <see cref="Capacity"/> is disposed. One generation at a time per model.
/// </summary>
public sealed class InferenceCache(DatasetService datasets) : IDisposable
{
    public const int Capacity = 2;
    private readonly Lock gate = new();
    private readonly LinkedList<Entry> entries = new(); // most recently used first

    private sealed class Entry(int runId, long step, Gpt model, Tokenizer tokenizer) : IDisposable
    {
        public int RunId { get; } = runId;
        public long Step { get; } = step;
        public Gpt Model { get; } = model;
        public Tokenizer Tokenizer { get; } = tokenizer;
        public Lock Use { get; } = new();
        public bool Disposed { get; private set; }

        public void Dispose()
        {
            Disposed = true;
            Model.Dispose();
        }
    }

    /// <summary>Synchronous: run it on a thread-pool thread (TorchSharp's dispose scopes are per thread).</summary>
    public GenerateResponse Generate(int runId, string runDirectory, GenerateRequest request, CancellationToken ct)
    {
        var checkpoints = Checkpoint.List(Path.Combine(runDirectory, "checkpoints"));
        var checkpoint = request.Step is long wanted ? checkpoints.FirstOrDefault(c => c.Step == wanted) : checkpoints.LastOrDefault();
        if (checkpoint is null && request.Step is long missing && checkpoints.Count > 0)
            throw new GenerationException(400, ErrorCodes.ValidationFailed,
                $"run {runId} has no checkpoint at step {missing}; it has {string.Join(", ", checkpoints.Select(c => c.Step))}", "step");
        if (checkpoint is null)
            throw new GenerationException(503, ErrorCodes.NoCheckpoint, $"Run {runId} has no complete checkpoint yet; try again once it has written one.");

        while (true)
        {
            var entry = Get(runId, checkpoint);
            lock (entry.Use)
            {
                if (entry.Disposed) continue; // evicted between lookup and use: load again
                return Run(entry, request, ct);
            }
        }
    }

    private static GenerateResponse Run(Entry entry, GenerateRequest request, CancellationToken ct)
    {
        var options = new SamplingOptions
        {
            MaxNewTokens = request.MaxTokens ?? 200,
            Temperature = request.Temperature ?? 0.8,
            TopK = request.TopK ?? 200,
            TopP = request.TopP ?? 1.0,
            Seed = request.Seed ?? 1337,
            Stop = request.Stop ?? [],
        };
        int[] ids;
        try { ids = entry.Tokenizer.Encode(request.Prompt); }
        catch (Exception ex) when (ex is ArgumentException or KeyNotFoundException)
        {
            throw new GenerationException(400, ErrorCodes.ValidationFailed, $"the prompt cannot be tokenized with this run's vocabulary: {ex.Message}", "prompt");
        }
        int context = entry.Model.Config.BlockSize;
        if (ids.Length >= context)
            throw new GenerationException(400, ErrorCodes.ValidationFailed, $"the prompt is {ids.Length} tokens; this model's context is {context}, so at most {context - 1} leave room to generate", "prompt");

        var sampler = new Sampler(entry.Model, entry.Tokenizer);
        var clock = Stopwatch.StartNew();
        double firstMs = 0;
        int count = 0;
        var text = new System.Text.StringBuilder();
        bool sawEnd = false;
        foreach (var token in sampler.Generate(ids.Length > 0 ? ids : [entry.Tokenizer.EndOfText ?? 0], options, ct))
        {
            if (count++ == 0) firstMs = clock.Elapsed.TotalMilliseconds;
            text.Append(token.Text);
            if (token.Id == entry.Tokenizer.EndOfText) sawEnd = true;
        }
        double totalMs = clock.Elapsed.TotalMilliseconds;
        string finish = count >= options.MaxNewTokens && !sawEnd ? "length" : "stop";
        return new GenerateResponse(text.ToString(), ids.Length, count, count / Math.Max(totalMs / 1000, 1e-9), entry.Step, firstMs, totalMs, finish);
    }

    private Entry Get(int runId, CheckpointInfo checkpoint)
    {
        lock (gate)
        {
            var node = entries.First;
            while (node is not null && (node.Value.RunId != runId || node.Value.Step != checkpoint.Step)) node = node.Next;
            if (node is not null)
            {
                entries.Remove(node);
                entries.AddFirst(node);
                return node.Value;
            }
        }
        // Loading takes a while; do it outside the lock (two racing loads of one key both work, one is dropped).
        var (model, manifest) = Checkpoint.LoadModel(checkpoint.Directory);
        var vocab = manifest.Tokenizer.Kind == TokenizerSpec.Gpt2Kind ? datasets.GetGpt2VocabAsync(CancellationToken.None).GetAwaiter().GetResult() : null;
        var entry = new Entry(runId, checkpoint.Step, model, Tokenizer.Create(manifest.Tokenizer, vocab));
        var evicted = new List<Entry>();
        lock (gate)
        {
            entries.AddFirst(entry);
            while (entries.Count > Capacity)
            {
                evicted.Add(entries.Last!.Value);
                entries.RemoveLast();
            }
        }
        foreach (var old in evicted)
            lock (old.Use) old.Dispose(); // waits for a generation still using it
        return entry;
    }

    /// <summary>Drops every model of a run (it was deleted).</summary>
    public void Forget(int runId)
    {
        List<Entry> removed;
        lock (gate)
        {
            removed = entries.Where(e => e.RunId == runId).ToList();
            foreach (var e in removed) entries.Remove(e);
        }
        foreach (var e in removed)
            lock (e.Use) e.Dispose();
    }

    public void Dispose()
    {
        lock (gate)
        {
            foreach (var e in entries) lock (e.Use) e.Dispose();
            entries.Clear();
        }
    }
}
