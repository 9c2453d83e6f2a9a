using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using WebLlm.Contracts;
using WebLlm.Server.Datasets;
using WebLlm.Server.Persistence;
using WebLlm.Server.Runs;
using WebLlm.Server.Live;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Data;
using WebLlm.Training.Interop;
using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;

namespace WebLlm.Server.Imports;

/// <summary>
/// Weights trained elsewhere (Hugging Face GPT-2, llm.c) become runs with a checkpoint at step 0, so the
/// playground, the API and fine-tuning can use them. Only files already in <c>&lt;data&gt;/imports</c> are
/// offered, by name: no endpoint reads a path a client sends.
/// </summary>
public static class ImportEndpoints
{
    public static IEndpointRouteBuilder MapImports(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(ApiRoutes.Imports).WithTags("Imports");
        group.MapGet("", (IOptions<WebLlmOptions> options) => TypedResults.Ok(Candidates(options.Value).Select(c => c.Dto).ToList()));
        group.MapPost("", Import);
        return app;
    }

    private sealed record Candidate(ImportCandidateDto Dto, string FullPath, GptConfig? Config);

    private static IEnumerable<Candidate> Candidates(WebLlmOptions options)
    {
        string root = options.DataPath("imports");
        if (!Directory.Exists(root)) yield break;
        foreach (var dir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            string weights = Path.Combine(dir, Checkpoint.ModelFile), config = Path.Combine(dir, Checkpoint.HfConfigFile);
            if (!File.Exists(weights) || !File.Exists(config)) continue;
            yield return Describe(Path.GetFileName(dir), "hf", dir, new FileInfo(weights).Length, () => HuggingFaceGpt2.ReadConfig(config));
        }
        foreach (var file in Directory.EnumerateFiles(root, "*.bin").Order(StringComparer.Ordinal))
            yield return Describe(Path.GetFileName(file), "llmc", file, new FileInfo(file).Length, () => LlmCModel.ReadHeader(file).Config);
    }

    private static Candidate Describe(string name, string format, string path, long size, Func<GptConfig> read)
    {
        try
        {
            var c = read();
            return new(new ImportCandidateDto(name, format, size, true,
                $"{c.NLayer} layers, {c.NHead} heads, {c.NEmbd} wide, context {c.BlockSize}, vocabulary {c.VocabSize}, {c.ParameterCount:N0} parameters"), path, c);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException)
        {
            return new(new ImportCandidateDto(name, format, size, false, e.Message.Replace(path, name, StringComparison.Ordinal)), path, null);
        }
    }

    private static async Task<Results<Created<RunDto>, ValidationProblem, ProblemHttpResult>> Import(
        ImportRequest request, WebLlmDb db, TrainingService training, MetricWriter writer, DatasetService datasets, IOptions<WebLlmOptions> options)
    {
        // Matched against the listing, never joined to a path: "../x" or "/etc/passwd" simply match nothing.
        var candidate = Candidates(options.Value).FirstOrDefault(c => c.Dto.Name == request.Name);
        if (candidate is null) return Problems.Validation("name", $"'{request.Name}' is not in the imports folder; GET {ApiRoutes.Imports} lists what is.");
        if (candidate.Config is not { } config) return Problems.Validation("name", candidate.Dto.Description);
        if (request.RunName is { Length: > 200 }) return Problems.Validation("runName", "A run name has at most 200 characters.");

        TokenizerSpec tokenizer;
        if (request.DatasetId is int datasetId)
        {
            var dataset = await db.Datasets.FindAsync(datasetId);
            if (dataset is not { Status: DatasetStatus.Ready }) return Problems.Validation("datasetId", $"Dataset {datasetId} does not exist or is not ready.");
            tokenizer = DatasetMeta.Load(dataset.Directory).Tokenizer;
            if (dataset.VocabSize > config.VocabSize) return Problems.Validation("datasetId", $"The dataset's vocabulary ({dataset.VocabSize}) is larger than the model's ({config.VocabSize}).");
        }
        else if (config.VocabSize == Gpt2Tokenizer.Gpt2VocabSize)
        {
            tokenizer = TokenizerSpec.Gpt2;
        }
        else
        {
            return Problems.Validation("datasetId", $"The model's vocabulary is {config.VocabSize}, not GPT-2's: name the dataset whose tokenizer it uses.");
        }

        string engine = candidate.Dto.Format == "hf" ? "import: Hugging Face" : "import: llm.c";
        var run = new RunEntity
        {
            Name = string.IsNullOrWhiteSpace(request.RunName) ? Path.GetFileNameWithoutExtension(candidate.Dto.Name) : request.RunName.Trim(),
            Preset = "imported",
            Engine = engine,
            Source = candidate.Dto.Name,
            ModelConfigJson = JsonSerializer.Serialize(RunMapping.ToDto(config), RunMapping.Json),
            TrainingConfigJson = JsonSerializer.Serialize(new TrainingConfigDto(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, [], 0), RunMapping.Json),
            DatasetId = request.DatasetId ?? 0,
            DatasetName = request.DatasetId is null ? null : (await db.Datasets.FindAsync(request.DatasetId))?.Name,
            Status = RunStatus.Queued,
            CreatedUtc = DateTime.UtcNow,
        };
        if (training.DatabaseFullMessage() is { } full) return Problems.DiskFull(full);
        db.Runs.Add(run);
        await db.SaveChangesAsync();
        string runDir = training.RunDirectory(run.Id);
        try
        {
            // Reading and writing a few hundred MB: off the request thread's synchronous path.
            var info = await Task.Run(() => candidate.Dto.Format == "hf"
                ? HuggingFaceGpt2.Import(candidate.FullPath, runDir, tokenizer)
                : LlmCModel.Import(candidate.FullPath, runDir, tokenizer));
            writer.Post(new CheckpointWritten(run.Id, info, DateTime.UtcNow));
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException)
        {
            db.Runs.Remove(run);
            await db.SaveChangesAsync();
            if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
            return Problems.Validation("name", e.Message.Replace(candidate.FullPath, candidate.Dto.Name, StringComparison.Ordinal));
        }
        await training.AddImportedAsync(run.Id, $"imported from {candidate.Dto.Name}");
        db.ChangeTracker.Clear();
        return TypedResults.Created(ApiRoutes.Run(run.Id), RunMapping.ToDto((await db.Runs.FindAsync(run.Id))!));
    }
}
