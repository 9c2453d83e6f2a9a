using System.Net;
using System.Net.Http.Json;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

public sealed class CorruptCheckpointInferenceTests(WebLlmFactory factory) : IClassFixture<WebLlmFactory>
{
    [Fact]
    public async Task A_damaged_newest_checkpoint_is_named_and_an_earlier_step_still_answers()
    {
        var api = new Api(factory.CreateClient());
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 20, checkpointEvery: 10));
        await api.WaitForAsync(run.Id, r => r.Status == RunStatus.Completed, "Completed");
        string weights = Path.Combine(factory.DataDirectory, "runs", $"{run.Id}", "checkpoints", "step_00000020", "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^10] ^= 0xFF; // one flipped byte: same size, different hash
        File.WriteAllBytes(weights, bytes);

        var newest = await api.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(run.Id), new GenerateRequest { Prompt = "The ", MaxTokens = 4 });
        var problem = await Api.AssertProblemAsync(newest, HttpStatusCode.ServiceUnavailable, ErrorCodes.CheckpointCorrupt);
        Assert.Contains("step 20", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain(factory.DataDirectory, problem.GetProperty("detail").GetString());

        var earlier = await api.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(run.Id), new GenerateRequest { Prompt = "The ", MaxTokens = 4, Step = 10 });
        Assert.True(earlier.IsSuccessStatusCode, await earlier.Content.ReadAsStringAsync());
        Assert.Equal(10, (await earlier.Content.ReadFromJsonAsync<GenerateResponse>())!.CheckpointStep);
    }
}
