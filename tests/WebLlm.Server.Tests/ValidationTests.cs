using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

/// <summary>Low caps, so the parameter and memory checks can be hit with small shapes.</summary>
public sealed class SmallLimitsFactory() : WebLlmFactory(null, new()
{
    ["WebLlm:Limits:MaxParameters"] = "5000000",
    ["WebLlm:Limits:MemoryBudgetBytes"] = "1073741824",
});

public class ValidationTests(SmallLimitsFactory factory) : IClassFixture<SmallLimitsFactory>
{
    private readonly Api api = new(factory.CreateClient());

    [Theory]
    [InlineData("""{"preset":"nope"}""", "preset", "unknown preset")]
    [InlineData("""{"nEmbd":100,"nHead":3}""", "nHead", "n_embd (100) must be divisible by n_head (3)")]
    [InlineData("""{"nLayer":0}""", "nLayer", "between 1 and")]
    [InlineData("""{"nLayer":49}""", "nLayer", "between 1 and 48")]
    [InlineData("""{"nEmbd":4096,"nHead":8}""", "nEmbd", "between 1 and 1600")]
    [InlineData("""{"blockSize":2048}""", "blockSize", "between 1 and 1024")]
    [InlineData("""{"dropout":1}""", "dropout", "[0, 1)")]
    [InlineData("""{"batchSize":0}""", "batchSize", "between 1 and")]
    [InlineData("""{"maxSteps":0}""", "maxSteps", "between 1 and")]
    [InlineData("""{"gradAccum":0}""", "gradAccum", "between 1 and")]
    [InlineData("""{"learningRate":0}""", "learningRate", "positive")]
    [InlineData("""{"learningRate":-0.1}""", "learningRate", "positive")]
    [InlineData("""{"learningRate":1e400}""", "learningRate", "finite")]
    [InlineData("""{"minLearningRate":0.5,"learningRate":0.001}""", "minLearningRate", "between 0 and the learning rate")]
    [InlineData("""{"warmupSteps":-1}""", "warmupSteps", "between 0 and")]
    [InlineData("""{"weightDecay":-1}""", "weightDecay", "0 or more")]
    [InlineData("""{"gradClip":-1}""", "gradClip", "0 (off) or positive")]
    [InlineData("""{"evalEvery":-1}""", "evalEvery", "at least 0")]
    [InlineData("""{"evalBatches":0}""", "evalBatches", "between 1 and")]
    [InlineData("""{"sampleTokens":0}""", "sampleTokens", "between 1 and")]
    [InlineData("""{"checkpointEvery":-5}""", "checkpointEvery", "at least 0")]
    [InlineData("""{"samplePrompts":[""]}""", "samplePrompts", "must not be empty")]
    [InlineData("""{"datasetId":999}""", "datasetId", "no dataset with id 999")]
    [InlineData("""{"batchSize":512}""", "batchSize", "MiB")]
    [InlineData("""{"preset":"baby"}""", "nEmbd", "parameters; the limit is 5,000,000")]
    public async Task Invalid_run_requests_are_400_naming_the_field(string json, string field, string message)
    {
        await api.WaitForBuiltinAsync();
        var response = await api.Http.PostAsync(ApiRoutes.Runs, new StringContent(json, Encoding.UTF8, "application/json"));

        var problem = await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed);
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var list), $"no '{field}' in {errors}");
        Assert.Contains(list.EnumerateArray(), e => e.GetString()!.Contains(message, StringComparison.Ordinal));
        Assert.Empty(await api.ListAsync<RunDto>(ApiRoutes.Runs)); // nothing was created for a rejected run
    }

    [Fact]
    public async Task Malformed_json_is_a_problem_details_400_with_a_code()
    {
        var response = await api.Http.PostAsync(ApiRoutes.Runs, new StringContent("""{"preset": """, Encoding.UTF8, "application/json"));
        await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.BadRequest);
    }

    [Theory]
    [InlineData(ApiRoutes.Runs, """{"preset":"tiny","training":{"maxSteps":30}}""", "training")]
    [InlineData(ApiRoutes.Runs, """{"preset":"tiny","max_steps":30}""", "max_steps")]
    [InlineData("/api/runs/1/generate", """{"prompt":"a","max_tokens":5}""", "max_tokens")]
    [InlineData(ApiRoutes.Imports, """{"name":"x","format":"hf"}""", "format")]
    public async Task An_unknown_field_is_a_400_naming_it_and_nothing_is_created(string route, string json, string field)
    {
        var response = await api.Http.PostAsync(route, new StringContent(json, Encoding.UTF8, "application/json"));
        var problem = await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.BadRequest);
        string detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains($"The JSON property '{field}' could not be mapped", detail, StringComparison.Ordinal);
        Assert.Empty(await api.ListAsync<RunDto>(ApiRoutes.Runs));
    }

    [Fact]
    public async Task Presets_health_and_the_openapi_document_answer()
    {
        var presets = (await api.Http.GetFromJsonAsync<List<PresetDto>>(ApiRoutes.Presets))!;
        Assert.Equal(124_439_808, presets.Single(p => p.Name == "gpt2").ParameterCount);
        Assert.Contains(presets, p => p.Name == "tiny" && p.NLayer == 4);
        var health = (await api.Http.GetFromJsonAsync<HealthDto>(ApiRoutes.ApiHealth))!;
        Assert.True(health.Database);
        using var openApi = JsonDocument.Parse(await api.Http.GetStringAsync(ApiRoutes.OpenApiDocument));
        Assert.True(openApi.RootElement.GetProperty("paths").TryGetProperty("/api/runs/{id}/generate", out _));
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync(ApiRoutes.ApiReference + "/")).StatusCode);
    }
}
