using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using WebLlm.Contracts;
using WebLlm.Training.External;

namespace WebLlm.Cli;

/// <summary>
/// <c>webllm watch</c>: follows the log of a run another engine is training (llm.c's main.log, nanoGPT's console
/// output redirected to a file) and sends its metrics to a WebLlm server, where it shows like a local run.
/// </summary>
public static class WatchCommand
{
    public const string ApiKeyVariable = "WEBLLM_API_KEY";

    public static Command Create()
    {
        var log = new Option<string>("--log") { Description = "The log file to follow (it may not exist yet).", Required = true };
        var format = new Option<string>("--format") { Description = "auto, llmc or nanogpt.", DefaultValueFactory = _ => "auto" };
        format.AcceptOnlyFromAmong("auto", "llmc", "nanogpt");
        var server = new Option<string>("--server") { Description = "The WebLlm server.", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
        var name = new Option<string?>("--name") { Description = "Name of the run to create (default: the log's folder name)." };
        var run = new Option<int?>("--run") { Description = "Send to an existing external run instead of creating one." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "The run's planned steps, for progress and ETA." };
        var apiKey = new Option<string?>("--api-key") { Description = $"The server's API key (default: ${ApiKeyVariable})." };
        var interval = new Option<double>("--interval") { Description = "Seconds between looks at the log.", DefaultValueFactory = _ => 1.0 };
        var once = new Option<bool>("--once") { Description = "Send what the log holds now, mark the run Completed and exit." };

        var command = new Command("watch", "Follow an llm.c or nanoGPT training log and show the run in a WebLlm server.")
        {
            log, format, server, name, run, maxSteps, apiKey, interval, once,
        };
        command.SetAction(parse => CliRunner.Guard(() =>
        {
            string path = parse.GetValue(log)!;
            if (!Uri.TryCreate(parse.GetValue(server), UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
                throw new ArgumentException($"--server must be an http(s) URL (got '{parse.GetValue(server)}').");
            if (parse.GetValue(interval) is <= 0 or > 3600) throw new ArgumentException("--interval must be between 0 and 3600 seconds.");
            string? key = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable(ApiKeyVariable);
            using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
            if (!string.IsNullOrEmpty(key)) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var watcher = new LogWatcher(http, path, parse.GetValue(format) switch
            {
                "llmc" => ExternalLogFormat.LlmC,
                "nanogpt" => ExternalLogFormat.NanoGpt,
                _ => null,
            });
            using var cts = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
            string runName = parse.GetValue(name) ?? new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(path))!).Name;
            return watcher.RunAsync(parse.GetValue(run), runName, parse.GetValue(maxSteps), parse.GetValue(once),
                TimeSpan.FromSeconds(parse.GetValue(interval)), cts.Token).GetAwaiter().GetResult();
        }));
        return command;
    }
}

/// <summary>Tails one log and posts its metrics in batches; the server ignores steps it already has.</summary>
public sealed class LogWatcher(HttpClient http, string path, ExternalLogFormat? format)
{
    private ExternalLogFormat? format = format;

    /// <summary>Records a request: ~300 KB of JSON, well inside the server's request size limit (1 MB by default).</summary>
    public const int BatchSize = 2_000;

    /// <summary>How long a watcher waits out a server that says "later" (503 disk full, 429) before it gives up.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(10);

    public async Task<int> RunAsync(int? runId, string name, int? maxSteps, bool once, TimeSpan interval, CancellationToken ct)
    {
        var follower = new LogFollower(path);
        var lines = follower.ReadNewLines(); // what the log holds already names the engine of a new run
        format ??= ExternalLog.Detect(lines);
        int id = runId ?? await CreateRunAsync(name, maxSteps, ct);
        Console.WriteLine($"watching {path} → {http.BaseAddress}runs/{id}");
        try
        {
            while (true)
            {
                format ??= ExternalLog.Detect(lines);
                if (format is ExternalLogFormat f && lines.Count > 0)
                {
                    var records = lines.Select(l => ExternalLog.Parse(l, f)).OfType<ExternalRecord>().ToList();
                    // A finished log read at once can hold 100,000 lines: more than one request may carry.
                    foreach (var batch in records.Chunk(BatchSize)) await SendAsync(id, [.. batch], null, ct);
                }
                if (once || ct.IsCancellationRequested) break;
                await Task.Delay(interval, ct);
                lines = follower.ReadNewLines();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        if (format is null) Console.Error.WriteLine($"webllm: no llm.c or nanoGPT metric lines found in {path}.");
        var final = once ? RunStatus.Completed : RunStatus.Stopped;
        await SendAsync(id, [], final, CancellationToken.None);
        Console.WriteLine($"run {id} marked {final}");
        return CliRunner.Ok;
    }

    private async Task<int> CreateRunAsync(string name, int? maxSteps, CancellationToken ct)
    {
        var response = await http.PostAsJsonAsync(ApiRoutes.ExternalRuns.TrimStart('/'),
            new CreateExternalRunRequest { Name = name, Engine = format switch { ExternalLogFormat.LlmC => "llm.c", ExternalLogFormat.NanoGpt => "nanoGPT", _ => "external" }, MaxSteps = maxSteps, Source = Path.GetFullPath(path) }, ct);
        await EnsureSuccessAsync(response, ct);
        var run = await response.Content.ReadFromJsonAsync<RunDto>(JsonSerializerOptions.Web, ct);
        return run!.Id;
    }

    private async Task SendAsync(int id, List<ExternalRecord> records, RunStatus? status, CancellationToken ct)
    {
        static double? F(double? v) => v is double d && double.IsFinite(d) ? d : null;
        var request = new IngestMetricsRequest
        {
            Steps = records.OfType<ExternalTrainStep>().Select(s => new IngestStep(s.Step, F(s.Loss), F(s.LearningRate), F(s.GradNorm), F(s.Milliseconds), F(s.Mfu))).ToList(),
            Evals = records.OfType<ExternalValLoss>().Select(e => new IngestEval(e.Step, F(e.ValLoss))).ToList(),
            Status = status,
            Reason = status is null ? null : "watcher: " + (status == RunStatus.Completed ? "log read to the end" : "stopped"),
        };
        var giveUp = DateTime.UtcNow + Patience;
        var response = await http.PostAsJsonAsync(ApiRoutes.RunMetrics(id).TrimStart('/'), request, JsonSerializerOptions.Web, ct);
        while (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests && DateTime.UtcNow < giveUp)
        {
            // The server keeps what it took (a disk that filled up); sending again is safe, steps it has are ignored.
            var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(5);
            Console.Error.WriteLine($"webllm: the server answered {(int)response.StatusCode} ({CliRunner.OneLine(await response.Content.ReadAsStringAsync(ct))}); sending again in {wait.TotalSeconds:F0} s");
            await Task.Delay(wait, ct);
            response = await http.PostAsJsonAsync(ApiRoutes.RunMetrics(id).TrimStart('/'), request, JsonSerializerOptions.Web, ct);
        }
        await EnsureSuccessAsync(response, ct);
        var result = await response.Content.ReadFromJsonAsync<IngestResult>(JsonSerializerOptions.Web, ct);
        if (request.Steps.Count + request.Evals.Count > 0)
            Console.WriteLine($"sent {result!.AcceptedSteps} steps ({result.DuplicateSteps} already there) and {result.AcceptedEvals} evals; last step {result.LastStep}");
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        string body = await response.Content.ReadAsStringAsync(ct);
        throw new HttpRequestException($"the server answered {(int)response.StatusCode}: {CliRunner.OneLine(body)}");
    }
}
