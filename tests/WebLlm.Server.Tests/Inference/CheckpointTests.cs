using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests.Inference;

/// <summary>Which checkpoint answers: the newest at request start, the same after a restart, within the cache budget.</summary>
public class CheckpointTests
{
    [Fact]
    public async Task Same_seed_gives_the_same_text_after_a_restart_on_the_same_data()
    {
        string dataDir = Directory.CreateTempSubdirectory("webllm-inference-restart-").FullName;
        try
        {
            var request = new GenerateRequest { Prompt = "The ", MaxTokens = 12, Seed = 99, Temperature = 1.0 };
            var body = new { model = "1", prompt = "The ", max_tokens = 12, seed = 99, temperature = 1.0 };
            string native, v1;
            await using (var first = await InferenceServer.StartAsync(dataDir))
            {
                var run = await first.TrainAsync();
                Assert.Equal(1, run.Id);
                native = (await (await first.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(run.Id), request)).Content.ReadFromJsonAsync<GenerateResponse>())!.Text;
                v1 = await TextAsync(first, body);
                Assert.Equal(native, (await (await first.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(run.Id), request)).Content.ReadFromJsonAsync<GenerateResponse>())!.Text);
                Assert.NotEqual(v1, await TextAsync(first, body with { seed = 100 }));
            }
            await using (var second = await InferenceServer.StartAsync(dataDir))
            {
                Assert.Equal(native, (await (await second.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(1), request)).Content.ReadFromJsonAsync<GenerateResponse>())!.Text);
                Assert.Equal(v1, await TextAsync(second, body));
            }
        }
        finally
        {
            WebLlmFactory.DeleteDirectory(dataDir);
        }
    }

    private static async Task<string> TextAsync(InferenceServer server, object body)
    {
        var response = await server.PostJsonAsync(ApiRoutes.OpenAiCompletions, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    [Fact]
    public async Task A_newer_checkpoint_is_picked_up_by_the_next_request_and_the_cache_keeps_within_its_budget()
    {
        // A tiny model's weights are well under 1 MB: a 1-byte budget keeps only the model last loaded.
        await using var server = await InferenceServer.StartAsync(cacheBytes: 1);
        var run = await server.Api.LaunchAsync(InferenceServer.Run(maxSteps: 100_000, checkpointEvery: 3));
        try
        {
            await server.Api.WaitForAsync(run.Id, r => r.LatestCheckpointStep >= 3, "a checkpoint");
            var first = await ModelStepAsync(server, run.Id);
            Assert.True(first >= 3);
            await server.Api.WaitForAsync(run.Id, r => r.LatestCheckpointStep > first, "a newer checkpoint");
            var second = await ModelStepAsync(server, run.Id);
            Assert.True(second > first, $"{second} after {first}");
            Assert.True((await NativeStepAsync(server, run.Id)) >= second);

            // An explicit older checkpoint still answers, and evicts the newer one from the 1-byte cache.
            Assert.Equal(first, await ModelStepAsync(server, run.Id, $"{run.Id}@{first}"));
            Assert.Equal([(run.Id, first)], server.Cache.Keys);
        }
        finally
        {
            await server.Api.CommandAsync(run.Id, "stop");
            await server.Api.WaitForAsync(run.Id, r => r.Status == RunStatus.Stopped, "stopped");
        }
    }

    private static async Task<long> ModelStepAsync(InferenceServer server, int runId, string? model = null)
    {
        var response = await server.PostJsonAsync(ApiRoutes.OpenAiCompletions, new { model = model ?? runId.ToString(System.Globalization.CultureInfo.InvariantCulture), prompt = "a", max_tokens = 2 });
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        long step = json.GetProperty("webllm").GetProperty("checkpoint_step").GetInt64();
        Assert.Equal($"{runId}@{step}", json.GetProperty("model").GetString());
        return step;
    }

    private static async Task<long> NativeStepAsync(InferenceServer server, int runId) =>
        (await (await server.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(runId), new GenerateRequest { Prompt = "a", MaxTokens = 2 })).Content.ReadFromJsonAsync<GenerateResponse>())!.CheckpointStep;
}
