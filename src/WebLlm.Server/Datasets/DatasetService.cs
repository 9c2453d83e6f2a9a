using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Server.Live;
using WebLlm.Training.Data;
using WebLlm.Training.Tokenization;

namespace WebLlm.Server.Datasets;

/// <summary>
/// Prepares datasets in the background (tokenizing is CPU-bound and synchronous) and pushes progress. At
/// start it registers the built-in corpus with the char tokenizer (fast, no downloads) and re-prepares
/// anything a previous process left half done.
/// </summary>
public sealed class DatasetService(
    IDbContextFactory<WebLlmDb> dbFactory, HubSubscribers hub,
    IOptions<WebLlmOptions> options, ILogger<DatasetService> log) : BackgroundService
{
    public const string BuiltinName = "builtin (char)";
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(200);

    private readonly WebLlmOptions settings = options.Value;
    private readonly ConcurrentDictionary<int, double> progress = new();
    private readonly ConcurrentDictionary<int, Task> preparing = new();
    private readonly SemaphoreSlim vocabGate = new(1, 1);
    /// <summary>Tokenizers of ready datasets by id and creation time (SQLite may give a deleted dataset's id to a new one).</summary>
    private readonly ConcurrentDictionary<(int, long), Tokenizer> tokenizers = new();
    private volatile Gpt2Tokenizer? gpt2Tokenizer;
    private Gpt2Vocab? gpt2Vocab;
    private CancellationToken stopping;

    private void PushProgress(DatasetEntity dataset)
    {
        var dto = ToDto(dataset);
        hub.Send([Broadcaster.RunsGroup], c => c.DatasetUpdated(dto));
    }

    /// <summary>0…1 while a dataset is being prepared.</summary>
    public double? Progress(int datasetId) => progress.TryGetValue(datasetId, out var p) ? p : null;

    public string DatasetDirectory(int id) => settings.DataPath("datasets", id.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public string UploadDirectory(int id) => settings.DataPath("uploads", id.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public DatasetDto ToDto(DatasetEntity d) => new()
    {
        Id = d.Id, Name = d.Name, Source = d.Source, Tokenizer = d.Tokenizer, Status = d.Status, Error = d.Error,
        VocabSize = d.VocabSize, TrainTokens = d.TrainTokens, ValTokens = d.ValTokens, SourceBytes = d.SourceBytes,
        ValBytesPerToken = d.ValBytes is long b && d.ValTokens is > 0 and long t ? (double)b / t : null,
        Progress = d.Status == DatasetStatus.Preparing ? Progress(d.Id) ?? 0 : null, CreatedUtc = Runs.RunMapping.Utc(d.CreatedUtc),
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        stopping = stoppingToken;
        await using var db = await dbFactory.CreateDbContextAsync(stoppingToken);
        if (!await db.Datasets.AnyAsync(d => d.Builtin, stoppingToken))
        {
            var builtin = new DatasetEntity
            {
                Name = BuiltinName, Source = DataPreparer.BuiltinSource, Tokenizer = TokenizerSpec.CharKind, Builtin = true,
                Status = DatasetStatus.Preparing, Directory = "", CreatedUtc = DateTime.UtcNow,
            };
            db.Datasets.Add(builtin);
            await db.SaveChangesAsync(stoppingToken);
            builtin.Directory = DatasetDirectory(builtin.Id);
            await db.SaveChangesAsync(stoppingToken);
        }
        foreach (var d in await db.Datasets.Where(d => d.Status == DatasetStatus.Preparing).ToListAsync(stoppingToken))
            StartPreparation(d.Id);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken); // cancels `stopping`; the preparer honours it between documents
        await Task.WhenAny(Task.WhenAll(preparing.Values), Task.Delay(Timeout.Infinite, cancellationToken));
    }

    /// <summary>Prepares a dataset row that is Preparing, on the thread pool.</summary>
    public void StartPreparation(int id)
    {
        progress[id] = 0;
        preparing[id] = Task.Run(async () =>
        {
            try { await PrepareAsync(id); }
            finally { progress.TryRemove(id, out _); preparing.TryRemove(id, out _); }
        });
    }

    /// <summary>Waits until the dataset's preparation (if any) has finished.</summary>
    public Task WhenPrepared(int id) => preparing.TryGetValue(id, out var t) ? t : Task.CompletedTask;

    private async Task PrepareAsync(int id)
    {
        DatasetEntity dataset;
        await using (var db = await dbFactory.CreateDbContextAsync())
            dataset = await db.Datasets.AsNoTracking().FirstAsync(d => d.Id == id);
        string? error = null;
        DatasetMeta? meta = null;
        try
        {
            var vocab = dataset.Tokenizer == TokenizerSpec.Gpt2Kind ? await GetGpt2VocabAsync(stopping) : null;
            var request = new DataPrepRequest(dataset.Builtin ? DataPreparer.BuiltinSource : dataset.UploadDirectory!, dataset.Directory, dataset.Tokenizer)
            {
                Gpt2Vocab = vocab,
                Overwrite = true,
                MaxDocuments = dataset.Builtin ? settings.BuiltinMaxDocuments : null,
                VocabSize = dataset.BpeVocabSize ?? DatasetDto.DefaultBpeVocabSize,
                Split = dataset.BpeSplit ?? "gpt2",
                ChatTokens = dataset.BpeChatTokens,
            };
            var reporter = new ProgressReporter(this, dataset);
            meta = await Task.Run(() => DataPreparer.Prepare(request, reporter, stopping), stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return; // still Preparing: the next start prepares it again
        }
        catch (Exception ex) when (ex is InvalidTextException or InvalidDataException or IOException or ArgumentException or Gpt2VocabUnavailableException or UnauthorizedAccessException)
        {
            log.LogWarning(ex, "Preparing dataset {DatasetId} failed", id);
            error = ex.Message;
        }

        await using var save = await dbFactory.CreateDbContextAsync();
        var row = await save.Datasets.FindAsync(id);
        if (row is null) return; // deleted meanwhile
        if (meta is not null)
        {
            row.Status = DatasetStatus.Ready;
            row.VocabSize = meta.VocabSize;
            row.TrainTokens = meta.TrainTokens;
            row.ValTokens = meta.ValTokens;
            row.ValBytes = meta.ValBytes;
            if (row.Builtin) row.SourceBytes = BuiltinCorpus.Locate().Files.Sum(f => new FileInfo(f).Length);
        }
        else
        {
            row.Status = DatasetStatus.Failed;
            row.Error = error;
        }
        await save.SaveChangesAsync();
        progress.TryRemove(id, out _);
        var updated = ToDto(row);
        hub.Send([Broadcaster.RunsGroup], c => c.DatasetUpdated(updated));
    }

    /// <summary>The verified GPT-2 files, loaded once on first use (configured folder, cache under the data directory, download).</summary>
    public async Task<Gpt2Vocab> GetGpt2VocabAsync(CancellationToken ct)
    {
        await vocabGate.WaitAsync(ct);
        try
        {
            return gpt2Vocab ??= await Gpt2Vocab.LoadAsync(settings.Gpt2VocabDirectory, settings.DataPath("cache", "gpt2"), ct);
        }
        finally
        {
            vocabGate.Release();
        }
    }

    /// <summary>GPT-2's tokenizer, built once from <see cref="GetGpt2VocabAsync"/> (building it parses a 1 MB vocabulary).</summary>
    public async Task<Gpt2Tokenizer> GetGpt2TokenizerAsync(CancellationToken ct)
    {
        if (gpt2Tokenizer is { } built) return built;
        var vocab = await GetGpt2VocabAsync(ct);
        return gpt2Tokenizer ??= new Gpt2Tokenizer(vocab); // two callers at once may both build it; either result is the same
    }

    /// <summary>
    /// A Ready dataset's tokenizer (not its tokens), kept per dataset: a trained bpe is a few milliseconds to rebuild.
    /// Null when the folder is gone or unreadable. Not for gpt2 datasets (<see cref="GetGpt2VocabAsync"/>).
    /// </summary>
    public Tokenizer? TokenizerOf(DatasetEntity d)
    {
        var key = (d.Id, d.CreatedUtc.Ticks);
        if (tokenizers.TryGetValue(key, out var known)) return known;
        try
        {
            return tokenizers[key] = Tokenizer.Create(DatasetMeta.Load(d.Directory).Tokenizer);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Loads a Ready dataset's tokens and tokenizer; called on the training thread.</summary>
    public Dataset LoadForTraining(int datasetId)
    {
        using var db = dbFactory.CreateDbContext();
        var d = db.Datasets.AsNoTracking().First(x => x.Id == datasetId);
        var vocab = d.Tokenizer == TokenizerSpec.Gpt2Kind ? GetGpt2VocabAsync(CancellationToken.None).GetAwaiter().GetResult() : null;
        return Dataset.Load(d.Directory, vocab);
    }

    /// <summary>Maps the preparer's phases onto 0…1 and pushes at most five updates a second.</summary>
    private sealed class ProgressReporter(DatasetService owner, DatasetEntity dataset) : IProgress<DataPrepProgress>
    {
        private DateTime lastPush = DateTime.MinValue;

        public void Report(DataPrepProgress value)
        {
            double fraction = value.Total > 0 ? (double)value.Done / value.Total : 0;
            double overall = value.Phase switch
            {
                DataPrepPhase.Reading => 0.2 * fraction,
                DataPrepPhase.TrainingTokenizer => 0.2 + 0.2 * fraction,
                DataPrepPhase.Tokenizing => 0.4 + 0.5 * fraction,
                _ => 0.9 + 0.1 * fraction,
            };
            owner.progress[dataset.Id] = overall;
            if (DateTime.UtcNow - lastPush < ProgressEvery) return;
            lastPush = DateTime.UtcNow;
            // Fire and forget: the preparer must not wait for browsers.
            owner.PushProgress(dataset);
        }
    }
}
