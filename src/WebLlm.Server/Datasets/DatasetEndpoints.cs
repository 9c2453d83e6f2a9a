using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Server.Live;
using WebLlm.Server.Runs;
using WebLlm.Training.Data;
using WebLlm.Training.Tokenization;

namespace WebLlm.Server.Datasets;

public static class DatasetEndpoints
{
    /// <summary>Uploads, preparation and the built-in corpus (a hosted service: it prepares the built-in dataset at start).</summary>
    public static WebApplicationBuilder AddDatasets(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DatasetService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DatasetService>());
        return builder;
    }

    public static IEndpointRouteBuilder MapDatasets(this IEndpointRouteBuilder app)
    {
        var datasets = app.MapGroup(ApiRoutes.Datasets).WithTags("Datasets");
        datasets.MapGet("", async (WebLlmDb db, DatasetService service) =>
            TypedResults.Ok((await db.Datasets.AsNoTracking().OrderBy(d => d.Id).ToListAsync()).Select(service.ToDto).ToList()));
        datasets.MapGet("{id:int}", async Task<Results<Ok<DatasetDto>, ProblemHttpResult>> (int id, WebLlmDb db, DatasetService service) =>
            await db.Datasets.FindAsync(id) is { } d ? TypedResults.Ok(service.ToDto(d)) : DatasetNotFound(id));
        datasets.MapPost("", Upload).DisableAntiforgery().Accepts<IFormFileCollection>("multipart/form-data");
        datasets.MapDelete("{id:int}", Delete);
        datasets.MapGet("{id:int}/preview", Preview);
        return app;
    }

    /// <summary>
    /// multipart/form-data: one or more .txt files, <c>name</c> and <c>tokenizer</c> (char | gpt2). Text is checked
    /// for valid UTF-8 here, while the bytes are at hand, so a bad file is a 400 naming the file and byte offset;
    /// tokenizing runs in the background (progress via DatasetUpdated).
    /// </summary>
    private static async Task<Results<Created<DatasetDto>, ValidationProblem, ProblemHttpResult>> Upload(
        HttpRequest request, WebLlmDb db, DatasetService service, IOptions<WebLlmOptions> options)
    {
        long limit = options.Value.MaxUploadBytes;
        if (request.ContentLength > limit) return TooLarge(limit);
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = limit + 64 * 1024; // room for the multipart framing around the files
        if (!request.HasFormContentType) return Problems.Validation("files", "send multipart/form-data with one or more .txt files");
        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(new FormOptions { MultipartBodyLengthLimit = limit + 64 * 1024 }, request.HttpContext.RequestAborted);
        }
        catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
        {
            return TooLarge(limit);
        }

        var errors = new Dictionary<string, string[]>();
        string name = form["name"].ToString().Trim();
        string tokenizer = form["tokenizer"] is { Count: > 0 } t ? t.ToString() : TokenizerSpec.CharKind;
        if (form.Files.Count == 0) errors["files"] = ["upload one or more .txt files"];
        else if (form.Files.FirstOrDefault(f => !f.FileName.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)) is { } bad)
            errors["files"] = [$"only .txt files are accepted ({bad.FileName})"];
        if (tokenizer is not (TokenizerSpec.CharKind or TokenizerSpec.Gpt2Kind or TokenizerSpec.BpeKind))
            errors["tokenizer"] = [$"tokenizer must be char, gpt2 or bpe (got '{tokenizer}')"];
        // bpe's own settings: the vocabulary to learn, the split pattern, the chat tokens.
        int vocabSize = DatasetDto.DefaultBpeVocabSize;
        if (form["vocabSize"] is { Count: > 0 } v && (!int.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out vocabSize)
            || vocabSize is < DatasetDto.MinBpeVocabSize or > DatasetDto.MaxBpeVocabSize))
            errors["vocabSize"] = [$"vocabulary size must be a whole number from {DatasetDto.MinBpeVocabSize} to {DatasetDto.MaxBpeVocabSize} (got '{v}')"];
        string split = form["split"] is { Count: > 0 } s ? s.ToString() : "gpt2";
        if (split is not ("gpt2" or "gpt4")) errors["split"] = [$"split must be gpt2 or gpt4 (got '{split}')"];
        bool chatTokens = false;
        if (form["chatTokens"] is { Count: > 0 } c && !bool.TryParse(c, out chatTokens))
            errors["chatTokens"] = [$"chatTokens must be true or false (got '{c}')"];
        if (name.Length > 100) errors["name"] = [$"name must be at most 100 characters (got {name.Length})"];
        if (errors.Count > 0) return Problems.Validation(errors);
        long total = form.Files.Sum(f => f.Length);
        if (total > limit) return TooLarge(limit);

        var contents = new List<(string FileName, byte[] Bytes)>();
        foreach (var file in form.Files)
        {
            using var buffer = new MemoryStream((int)file.Length);
            await file.CopyToAsync(buffer, request.HttpContext.RequestAborted);
            var bytes = buffer.ToArray();
            try { StrictUtf8.Decode(bytes, file.FileName); }
            catch (InvalidTextException ex) { return Problems.Of(StatusCodes.Status400BadRequest, ErrorCodes.InvalidText, ex.Message, "Invalid text"); }
            contents.Add((file.FileName, bytes));
        }

        var dataset = new DatasetEntity
        {
            Name = name.Length > 0 ? name : DisplayName(contents[0].FileName),
            Source = contents.Count == 1 ? contents[0].FileName : $"{contents.Count} files ({contents[0].FileName}, …)",
            Tokenizer = tokenizer, Status = DatasetStatus.Preparing, SourceBytes = total, Directory = "", CreatedUtc = DateTime.UtcNow,
            BpeVocabSize = tokenizer == TokenizerSpec.BpeKind ? vocabSize : null,
            BpeSplit = tokenizer == TokenizerSpec.BpeKind ? split : null,
            BpeChatTokens = tokenizer == TokenizerSpec.BpeKind && chatTokens,
        };
        db.Datasets.Add(dataset);
        await db.SaveChangesAsync();
        dataset.Directory = service.DatasetDirectory(dataset.Id);
        dataset.UploadDirectory = service.UploadDirectory(dataset.Id);
        Directory.CreateDirectory(dataset.UploadDirectory);
        // Server-generated names only: the client's file name (which may hold "../", NUL, 300 characters or a
        // right-to-left override) is data shown in Source, never part of a path. The preparer reads the folder in
        // ordinal order, so the index keeps the upload's order.
        for (int i = 0; i < contents.Count; i++)
            await File.WriteAllBytesAsync(Path.Combine(dataset.UploadDirectory, $"{i:D4}.txt"), contents[i].Bytes);
        await db.SaveChangesAsync();
        service.StartPreparation(dataset.Id);
        return TypedResults.Created(ApiRoutes.Dataset(dataset.Id), service.ToDto(dataset));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        int id, WebLlmDb db, DatasetService service, TrainingService training, HubSubscribers hub)
    {
        var dataset = await db.Datasets.FindAsync(id);
        if (dataset is null) return DatasetNotFound(id);
        if (dataset.Status == DatasetStatus.Preparing) return Problems.Conflict(ErrorCodes.DatasetNotReady, $"Dataset {id} is still being prepared.");
        // Interrupted runs count too: resuming one needs its tokens.
        var users = (await db.Runs.Where(r => r.DatasetId == id).Select(r => new { r.Id, r.Status }).ToListAsync())
            .Where(r => training.IsActive(r.Id) || r.Status == RunStatus.Interrupted).Select(r => r.Id).ToList();
        if (users.Count > 0)
            return Problems.Conflict(ErrorCodes.DatasetInUse, $"Dataset {id} is used by run(s) {string.Join(", ", users)} (queued, running, paused or interrupted).");
        db.Datasets.Remove(dataset);
        await db.SaveChangesAsync();
        foreach (var folder in new[] { dataset.Directory, dataset.UploadDirectory })
            if (!string.IsNullOrEmpty(folder) && Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        hub.Send([Broadcaster.RunsGroup], c => c.DatasetDeleted(id));
        return TypedResults.NoContent();
    }

    /// <summary>The first lines of the prepared text and how its first 200 characters tokenize.</summary>
    private static async Task<Results<Ok<DatasetPreviewDto>, ProblemHttpResult>> Preview(int id, WebLlmDb db, DatasetService service)
    {
        var dataset = await db.Datasets.FindAsync(id);
        if (dataset is null) return DatasetNotFound(id);
        if (dataset.Status != DatasetStatus.Ready) return Problems.Conflict(ErrorCodes.DatasetNotReady, $"Dataset {id} is {dataset.Status}.");
        var loaded = await Task.Run(() => service.LoadForTraining(id));
        var head = loaded.Train.AsSpan(0, Math.Min(loaded.Train.Length, 4000)).ToArray().Select(t => (int)t).ToArray();
        string text = loaded.Tokenizer.Decode(head);
        var lines = text.Split('\n').Take(20).ToList();
        var sample = loaded.Tokenizer.Encode(text[..Math.Min(200, text.Length)]);
        var tokens = sample.Select(t => new TokenPreviewDto(t, loaded.Tokenizer.Decode([t]))).ToList();
        return TypedResults.Ok(new DatasetPreviewDto(id, lines, tokens));
    }

    /// <summary>The client's file name without folders or extension, at most 100 characters: a label, never a path.</summary>
    private static string DisplayName(string fileName)
    {
        string last = fileName.Replace('\\', '/').Split('/')[^1];
        if (last.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)) last = last[..^4];
        return last.Length > 100 ? last[..100] : last.Length == 0 ? "upload" : last;
    }

    private static ProblemHttpResult TooLarge(long limit) =>
        Problems.Of(StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge, $"Uploads are limited to {limit:N0} bytes (WebLlm:MaxUploadBytes).", "Payload too large");

    private static ProblemHttpResult DatasetNotFound(int id) => Problems.NotFound(ErrorCodes.DatasetNotFound, $"No dataset with id {id}.");
}
