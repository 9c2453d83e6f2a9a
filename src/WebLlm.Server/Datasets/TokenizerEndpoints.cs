using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Training.Data;
using WebLlm.Training.Tokenization;

namespace WebLlm.Server.Datasets;

/// <summary>The tokenizer inspector: a text split by GPT-2's tokenizer and by each ready dataset's own (char, trained bpe).</summary>
public static class TokenizerEndpoints
{
    private const int FirstMerges = 24;

    public static IEndpointRouteBuilder MapTokenizers(this IEndpointRouteBuilder app)
    {
        app.MapPost(ApiRoutes.Tokenize, Tokenize).WithTags("Datasets");
        return app;
    }

    private static async Task<Results<Ok<List<TokenizerViewDto>>, ValidationProblem>> Tokenize(
        TokenizeRequest request, WebLlmDb db, DatasetService service, CancellationToken ct)
    {
        if (request.Text is null) return Problems.Validation("text", "text is required");
        if (request.Text.Length > TokenizeRequest.MaxLength)
            return Problems.Validation("text", $"text must be at most {TokenizeRequest.MaxLength:N0} characters (got {request.Text.Length:N0})");
        var views = new List<TokenizerViewDto>();
        try
        {
            views.Add(View("GPT-2", await service.GetGpt2TokenizerAsync(ct), null, request.Text));
        }
        catch (Gpt2VocabUnavailableException)
        {
            // Without GPT-2's files (no network, no folder configured) the datasets' own tokenizers are still shown.
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in await db.Datasets.AsNoTracking().Where(d => d.Status == DatasetStatus.Ready && d.Tokenizer != TokenizerSpec.Gpt2Kind)
                     .OrderBy(d => d.Id).ToListAsync(ct))
        {
            var tokenizer = await Task.Run(() => service.TokenizerOf(d), ct);
            if (tokenizer is null || !seen.Add(tokenizer.Spec.Kind + "\n" + (tokenizer.Spec.Sha256 ?? tokenizer.Spec.Vocabulary))) continue;
            views.Add(View(d.Name, tokenizer, d.Id, request.Text));
        }
        return TypedResults.Ok(views);
    }

    private static TokenizerViewDto View(string name, Tokenizer tokenizer, int? datasetId, string text)
    {
        var merges = tokenizer is BpeTokenizer bpe
            ? bpe.Bpe.Vocabulary.Skip(256).Take(FirstMerges).Select(b => System.Text.Encoding.UTF8.GetString(b)).ToList()
            : [];
        int[] ids;
        try
        {
            ids = tokenizer.Encode(text);
        }
        catch (ArgumentException e)
        {
            return new TokenizerViewDto(name, tokenizer.Kind, datasetId, tokenizer.VocabSize, [], merges, e.Message.Split(" (Parameter")[0]);
        }
        var tokens = ids.Select(id => new TokenPreviewDto(id, tokenizer.Decode([id]))).ToList();
        return new TokenizerViewDto(name, tokenizer.Kind, datasetId, tokenizer.VocabSize, tokens, merges);
    }
}
