using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

/// <summary>The REST calls the tests make, with polling for states reached in the background.</summary>
public sealed class Api(HttpClient http)
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    public HttpClient Http { get; } = http;

    /// <summary>A tiny run that takes a second or two: 40 steps, batch 4, context 32, evals and checkpoints every 10.</summary>
    public static CreateRunRequest Tiny(int maxSteps = 40, int checkpointEvery = 10) => new()
    {
        Preset = "tiny", MaxSteps = maxSteps, BatchSize = 4, BlockSize = 32, EvalEvery = 10, EvalBatches = 2,
        CheckpointEvery = checkpointEvery, SampleEvery = 20, SampleTokens = 8, WarmupSteps = 2,
    };

    public async Task<RunDto> LaunchAsync(CreateRunRequest request)
    {
        await WaitForBuiltinAsync();
        var response = await Http.PostAsJsonAsync(ApiRoutes.Runs, request);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<RunDto>())!;
    }

    public async Task<RunDto> GetRunAsync(int id) => (await Http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(id)))!;

    public async Task<RunDto> WaitForAsync(int id, Func<RunDto, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var run = await GetRunAsync(id);
            if (condition(run)) return run;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Run {id} never got {what}; it is {run.Status} at step {run.CurrentStep} ({run.StatusReason}).");
            await Task.Delay(25);
        }
    }

    public Task<RunDto> WaitForStatusAsync(int id, RunStatus status) => WaitForAsync(id, r => r.Status == status, status.ToString());

    public async Task<IReadOnlyList<StepMetricDto>> MetricsAsync(int id, int? maxPoints = null) =>
        (await Http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(id, maxPoints: maxPoints)))!.Steps;

    public async Task<List<T>> ListAsync<T>(string route) => (await Http.GetFromJsonAsync<List<T>>(route))!;

    public async Task<HttpResponseMessage> CommandAsync(int id, string action) => await Http.PostAsync(ApiRoutes.RunAction(id, action), null);

    public async Task<DatasetDto> WaitForDatasetAsync(int id)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var d = (await Http.GetFromJsonAsync<DatasetDto>(ApiRoutes.Dataset(id)))!;
            if (d.Status != DatasetStatus.Preparing) return d;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Dataset {id} is still preparing.");
            await Task.Delay(25);
        }
    }

    public async Task WaitForBuiltinAsync()
    {
        var deadline = DateTime.UtcNow + Patience;
        while ((await Http.GetFromJsonAsync<List<DatasetDto>>(ApiRoutes.Datasets))!.FirstOrDefault() is not { Status: DatasetStatus.Ready })
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The built-in dataset never became ready.");
            await Task.Delay(25);
        }
    }

    /// <summary>Asserts a ProblemDetails with the status and code, and returns it for more checks.</summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {status}, got {response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal(code, problem.GetProperty("code").GetString());
        return problem;
    }
}
