using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.AspNetCore.Components.WebAssembly.Http;
using WebLlm.Contracts;

namespace WebLlm.Client.Services;

/// <summary>
/// The typed REST client: one method per endpoint of <see cref="ApiRoutes"/>. Every non-success answer
/// becomes an <see cref="ApiProblem"/> carrying the ProblemDetails <c>code</c> and field errors.
/// </summary>
public sealed class WebLlmApi(HttpClient http, ApiKeyStore keys)
{
    /// <summary>How many steps one metrics request asks for when loading a run's full history.</summary>
    public const int MetricsPageSize = 10_000;

    public Task<ServerInfo> GetInfoAsync(CancellationToken ct = default) => GetAsync<ServerInfo>(ApiRoutes.Info, ct);

    public Task<List<PresetDto>> GetPresetsAsync(CancellationToken ct = default) => GetAsync<List<PresetDto>>(ApiRoutes.Presets, ct);

    public Task<List<RunDto>> GetRunsAsync(CancellationToken ct = default) => GetAsync<List<RunDto>>(ApiRoutes.Runs, ct);

    public Task<RunDto> GetRunAsync(int id, CancellationToken ct = default) => GetAsync<RunDto>(ApiRoutes.Run(id), ct);

    public Task<RunDto> CreateRunAsync(CreateRunRequest request, CancellationToken ct = default) =>
        SendAsync<RunDto>(HttpMethod.Post, ApiRoutes.Runs, JsonContent.Create(request), ct);

    /// <summary><paramref name="action"/> is pause, resume or stop; an invalid one is a 409 invalid_transition.</summary>
    public Task<RunDto> RunActionAsync(int id, string action, CancellationToken ct = default) =>
        SendAsync<RunDto>(HttpMethod.Post, ApiRoutes.RunAction(id, action), null, ct);

    public Task DeleteRunAsync(int id, CancellationToken ct = default) => SendAsync(HttpMethod.Delete, ApiRoutes.Run(id), null, ct);

    public Task<MetricsPage> GetMetricsAsync(int id, long? fromStep = null, long? toStep = null, int? maxPoints = null, CancellationToken ct = default) =>
        GetAsync<MetricsPage>(ApiRoutes.RunMetrics(id, fromStep, toStep, maxPoints), ct);

    /// <summary>
    /// Every stored step from <paramref name="fromStep"/> on, fetched in pages of <see cref="StepColumns"/>: the
    /// interpreter read JSON step objects at about 0.2 ms a step, half a minute for a 100,000-step run.
    /// </summary>
    public async Task<List<StepMetricDto>> GetAllMetricsAsync(int id, long fromStep, CancellationToken ct = default)
    {
        var all = new List<StepMetricDto>();
        while (true)
        {
            var toStep = fromStep + MetricsPageSize - 1;
            using var response = await SendAsync(HttpMethod.Get, ApiRoutes.RunMetricColumns(id, fromStep, toStep), null, ct);
            var page = StepColumns.Decode(await response.Content.ReadAsByteArrayAsync(ct));
            all.AddRange(page);
            if (page.Count == 0 || page[^1].Step < toStep)
            {
                return all;
            }
            fromStep = page[^1].Step + 1;
        }
    }

    public Task<List<EvalDto>> GetEvalsAsync(int id, CancellationToken ct = default) => GetAsync<List<EvalDto>>(ApiRoutes.RunEvals(id), ct);

    public Task<List<SampleDto>> GetSamplesAsync(int id, CancellationToken ct = default) => GetAsync<List<SampleDto>>(ApiRoutes.RunSamples(id), ct);

    public Task<List<CheckpointDto>> GetCheckpointsAsync(int id, CancellationToken ct = default) =>
        GetAsync<List<CheckpointDto>>(ApiRoutes.RunCheckpoints(id), ct);

    public Task<List<SystemMetricDto>> GetSystemMetricsAsync(int id, CancellationToken ct = default) =>
        GetAsync<List<SystemMetricDto>>(ApiRoutes.RunSystem(id), ct);

    public Task<List<RunTransitionDto>> GetTransitionsAsync(int id, CancellationToken ct = default) =>
        GetAsync<List<RunTransitionDto>>(ApiRoutes.RunTransitions(id), ct);

    /// <summary>
    /// Generates from the run's newest (or the requested) checkpoint. <paramref name="onText"/> receives text as
    /// it becomes available: today the server answers in one piece, so it is called once with the whole
    /// completion; a streaming endpoint only has to call it per token, and callers stay the same.
    /// </summary>
    /// <summary>
    /// Streams a generation (server-sent events, docs/API.md): each token (text, id, log-probability) goes to <paramref name="onToken"/>
    /// as it is produced; the final <c>done</c> event is the result. A server that answers with plain JSON
    /// (no stream) is read as one piece.
    /// </summary>
    public async Task<GenerateResponse> GenerateAsync(int runId, GenerateRequest request, Action<GenerateTokenEvent>? onToken = null, CancellationToken ct = default)
    {
        using var response = await SendWithKeyAsync(() =>
        {
            var message = new HttpRequestMessage(HttpMethod.Post, ApiRoutes.RunGenerate(runId).TrimStart('/'))
            {
                Content = JsonContent.Create(request with { Stream = true }),
            };
            message.SetBrowserResponseStreamingEnabled(true); // otherwise the browser's fetch buffers the whole answer
            return message;
        }, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode) throw await ApiProblem.ReadAsync(response, ct);
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            var whole = await response.Content.ReadFromJsonAsync<GenerateResponse>(ct) ?? throw Empty(response);
            onToken?.Invoke(new GenerateTokenEvent(whole.Text, -1, double.NaN)); // one piece, no per-token probability
            return whole;
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        string? kind = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("event:", StringComparison.Ordinal)) kind = line[6..].Trim();
            if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
            string data = line[5..].Trim();
            switch (kind)
            {
                case "token":
                    onToken?.Invoke(JsonSerializer.Deserialize<GenerateTokenEvent>(data, JsonSerializerOptions.Web)!);
                    break;
                case "done":
                    return JsonSerializer.Deserialize<GenerateResponse>(data, JsonSerializerOptions.Web) ?? throw Empty(response);
                case "error":
                    var error = JsonSerializer.Deserialize<GenerateErrorEvent>(data, JsonSerializerOptions.Web)!;
                    throw new ApiProblem((System.Net.HttpStatusCode)error.Status, error.Code, "Generation failed", error.Detail, new Dictionary<string, string[]>());
            }
        }
        throw Empty(response);
    }

    private static ApiProblem Empty(HttpResponseMessage response) =>
        new(response.StatusCode, null, "The generation ended without a result", null, new Dictionary<string, string[]>());

    /// <summary>Model files in the server's imports folder (Hugging Face GPT-2 folders, llm.c .bin files).</summary>
    public Task<List<ImportCandidateDto>> GetImportsAsync(CancellationToken ct = default) => GetAsync<List<ImportCandidateDto>>(ApiRoutes.Imports, ct);

    /// <summary>Makes an import candidate a run with a checkpoint at step 0 (201 with the run).</summary>
    public Task<RunDto> ImportAsync(ImportRequest request, CancellationToken ct = default) =>
        SendAsync<RunDto>(HttpMethod.Post, ApiRoutes.Imports, JsonContent.Create(request), ct);

    public Task<List<DatasetDto>> GetDatasetsAsync(CancellationToken ct = default) => GetAsync<List<DatasetDto>>(ApiRoutes.Datasets, ct);

    public Task<DatasetPreviewDto> GetDatasetPreviewAsync(int id, CancellationToken ct = default) =>
        GetAsync<DatasetPreviewDto>(ApiRoutes.DatasetPreview(id), ct);

    /// <summary>The text split by every tokenizer the server has (GPT-2's, and each ready dataset's own).</summary>
    public Task<List<TokenizerViewDto>> TokenizeAsync(string text, CancellationToken ct = default) =>
        SendAsync<List<TokenizerViewDto>>(HttpMethod.Post, ApiRoutes.Tokenize, JsonContent.Create(new TokenizeRequest { Text = text }), ct);

    public Task DeleteDatasetAsync(int id, CancellationToken ct = default) => SendAsync(HttpMethod.Delete, ApiRoutes.Dataset(id), null, ct);

    /// <summary>
    /// Multipart upload (<c>files</c>, <c>name</c>, <c>tokenizer</c>, and for bpe <c>vocabSize</c>, <c>split</c>,
    /// <c>chatTokens</c>), reporting the fraction sent.
    /// </summary>
    public async Task<DatasetDto> UploadDatasetAsync(
        string name, string tokenizer, IReadOnlyList<IBrowserFile> files, long maxFileBytes, IProgress<double> progress, BpeChoice? bpe = null,
        CancellationToken ct = default)
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent(name), "name" },
            { new StringContent(tokenizer), "tokenizer" },
        };
        if (bpe is not null)
        {
            form.Add(new StringContent(bpe.VocabSize.ToString(System.Globalization.CultureInfo.InvariantCulture)), "vocabSize");
            form.Add(new StringContent(bpe.Split), "split");
            form.Add(new StringContent(bpe.ChatTokens ? "true" : "false"), "chatTokens");
        }
        foreach (var file in files)
        {
            // Read each file into memory first: the browser's fetch sends a buffered body anyway.
            await using var source = file.OpenReadStream(maxFileBytes, ct);
            var bytes = new MemoryStream();
            await source.CopyToAsync(bytes, ct);
            var part = new ByteArrayContent(bytes.ToArray());
            part.Headers.ContentType = new("text/plain");
            form.Add(part, "files", file.Name);
        }
        var body = new ProgressContent(form, progress);
        return await SendAsync<DatasetDto>(HttpMethod.Post, ApiRoutes.Datasets, body, ct);
    }

    private async Task<T> GetAsync<T>(string route, CancellationToken ct) => await SendAsync<T>(HttpMethod.Get, route, null, ct);

    private async Task<T> SendAsync<T>(HttpMethod method, string route, HttpContent? content, CancellationToken ct)
    {
        using var response = await SendAsync(method, route, content, ct);
        return await response.Content.ReadFromJsonAsync<T>(ct)
            ?? throw new ApiProblem(response.StatusCode, null, $"Empty answer from {route}", null, new Dictionary<string, string[]>());
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string route, HttpContent? content, CancellationToken ct)
    {
        // A body is sent at most once: a retry after the key prompt re-buffers it first.
        byte[]? body = null;
        if (content is not null)
        {
            body = await content.ReadAsByteArrayAsync(ct);
        }
        var response = await SendWithKeyAsync(() =>
        {
            var request = new HttpRequestMessage(method, route.TrimStart('/'));
            if (body is not null)
            {
                var copy = new ByteArrayContent(body);
                foreach (var header in content!.Headers)
                {
                    copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
                request.Content = copy;
            }
            return request;
        }, HttpCompletionOption.ResponseContentRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await ApiProblem.ReadAsync(response, ct);
            }
        }
        return response;
    }

    /// <summary>How often a request refused with 429 is sent again, and the longest wait between tries.</summary>
    private const int RateLimitRetries = 4;
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Sends with the API key when one is known. A 401 <c>unauthorized</c> asks the user for a key (once, shared by
    /// concurrent calls) and sends again with it. A 429 (the server's rate limits) waits as its Retry-After says and
    /// sends again, a few times: the server refused the request before doing anything, so repeating it is safe.
    /// </summary>
    private async Task<HttpResponseMessage> SendWithKeyAsync(Func<HttpRequestMessage> build, HttpCompletionOption completion, CancellationToken ct)
    {
        await keys.EnsureLoadedAsync();
        for (int attempt = 0, limited = 0; ; attempt++)
        {
            var sentWith = keys.Key;
            using var request = build();
            if (sentWith is not null)
            {
                request.Headers.Authorization = new("Bearer", sentWith);
            }
            var response = await http.SendAsync(request, completion, ct);
            if (response.StatusCode == System.Net.HttpStatusCode.TooManyRequests && limited++ < RateLimitRetries)
            {
                var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
                response.Dispose();
                await Task.Delay(wait < MaxRetryAfter ? wait : MaxRetryAfter, ct);
                attempt--; // a rate-limit retry is not the key prompt's one retry
                continue;
            }
            if (response.StatusCode != System.Net.HttpStatusCode.Unauthorized || attempt > 0)
            {
                return response;
            }
            var problem = await ApiProblem.ReadAsync(response, ct);
            if (problem.Code != ErrorCodes.Unauthorized)
            {
                response.Dispose();
                throw problem;
            }
            // Another call may already have obtained a new key while this one was in flight.
            if (keys.Key == sentWith && !await keys.RequestKeyAsync())
            {
                response.Dispose();
                throw problem;
            }
            response.Dispose();
        }
    }
}

/// <summary>A byte-level BPE to learn from an upload: its vocabulary size, split pattern (gpt2 or gpt4) and whether chat tokens are added.</summary>
public sealed record BpeChoice(int VocabSize, string Split, bool ChatTokens);
