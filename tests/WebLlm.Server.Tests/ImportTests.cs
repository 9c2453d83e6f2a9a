using System.Net;
using System.Net.Http.Json;
using WebLlm.Contracts;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Interop;
using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;

namespace WebLlm.Server.Tests;

public sealed class ImportTests : IClassFixture<WebLlmFactory>
{
    private readonly WebLlmFactory factory;
    private readonly Api api;

    public ImportTests(WebLlmFactory factory)
    {
        this.factory = factory;
        api = new Api(factory.CreateClient());
    }

    [Fact]
    public async Task Models_in_the_imports_folder_become_runs_the_playground_can_sample()
    {
        await api.WaitForBuiltinAsync();
        var builtin = (await api.Http.GetFromJsonAsync<List<DatasetDto>>(ApiRoutes.Datasets))!.First(d => d.Status == DatasetStatus.Ready);
        string imports = Path.Combine(factory.DataDirectory, "imports");
        Directory.CreateDirectory(imports);
        var config = new GptConfig { NLayer = 2, NHead = 2, NEmbd = 32, BlockSize = 32, VocabSize = builtin.VocabSize!.Value };
        using (var model = new Gpt(config, seed: 3))
        {
            var checkpoint = Checkpoint.Save(Path.Combine(imports, "scratch"), model,
                new CheckpointManifest { Step = 0, Model = config, Tokenizer = new TokenizerSpec("char", null) });
            HuggingFaceGpt2.Export(checkpoint.Directory, Path.Combine(imports, "mini-hf"));
            LlmCModel.Save(model, Path.Combine(imports, "mini.bin"));
        }
        File.WriteAllText(Path.Combine(imports, "garbage.bin"), "not a model");

        var candidates = (await api.Http.GetFromJsonAsync<List<ImportCandidateDto>>(ApiRoutes.Imports))!;
        Assert.Contains(candidates, c => c is { Name: "mini-hf", Format: "hf", Importable: true });
        Assert.Contains(candidates, c => c is { Name: "mini.bin", Format: "llmc", Importable: true });
        var garbage = Assert.Single(candidates, c => c.Name == "garbage.bin");
        Assert.False(garbage.Importable);
        Assert.DoesNotContain(factory.DataDirectory, garbage.Description); // no server paths in answers

        foreach (var name in new[] { "mini-hf", "mini.bin" })
        {
            var response = await api.Http.PostAsJsonAsync(ApiRoutes.Imports, new ImportRequest { Name = name, DatasetId = builtin.Id });
            Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
            var run = (await response.Content.ReadFromJsonAsync<RunDto>())!;
            Assert.Equal(RunStatus.Completed, run.Status);
            Assert.StartsWith("import", run.Engine);
            Assert.Equal(config.ParameterCount, run.Model.ParameterCount);
            var generated = await api.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(run.Id), new GenerateRequest { Prompt = "The ", MaxTokens = 8, Seed = 1 });
            Assert.True(generated.IsSuccessStatusCode, await generated.Content.ReadAsStringAsync());
            var answer = (await generated.Content.ReadFromJsonAsync<GenerateResponse>())!;
            Assert.Equal(0, answer.CheckpointStep);
            Assert.Equal(8, answer.CompletionTokens);
            await api.WaitForAsync(run.Id, r => r.LatestCheckpointStep == 0, "its checkpoint row");
            Assert.Equal(HttpStatusCode.Conflict, (await api.Http.PostAsync(ApiRoutes.RunAction(run.Id, "resume"), null)).StatusCode);
        }
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("../outside.bin")]
    [InlineData("nothing-here")]
    [InlineData("")]
    public async Task Names_that_are_not_listed_are_refused_without_touching_the_disk(string name)
    {
        // A real model where "../outside.bin" points, next to (not in) the imports folder: only listed names are opened.
        string imports = Directory.CreateDirectory(Path.Combine(factory.DataDirectory, "imports")).FullName;
        using (var model = new Gpt(new GptConfig { NLayer = 1, NHead = 1, NEmbd = 8, BlockSize = 8, VocabSize = 16 }, seed: 1))
        {
            LlmCModel.Save(model, Path.Combine(factory.DataDirectory, "outside.bin"));
        }
        var runsBefore = (await api.Http.GetFromJsonAsync<List<RunDto>>(ApiRoutes.Runs))!.Count;
        var filesBefore = Files(factory.DataDirectory);

        var response = await api.Http.PostAsJsonAsync(ApiRoutes.Imports, new ImportRequest { Name = name });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string body = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"name\"", body);
        Assert.Contains(ErrorCodes.ValidationFailed, body);
        Assert.Equal(runsBefore, (await api.Http.GetFromJsonAsync<List<RunDto>>(ApiRoutes.Runs))!.Count);
        Assert.Equal(filesBefore, Files(factory.DataDirectory)); // no run folder, no copy, nothing written under imports
        Assert.DoesNotContain(Directory.GetFileSystemEntries(imports), e => Path.GetFileName(e) is "outside.bin" or "passwd");
    }

    /// <summary>The files below the data directory with their sizes, but the database (other requests write it).</summary>
    private static List<string> Files(string dir) =>
        [.. Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith("webllm.db", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).Select(f => $"{Path.GetRelativePath(dir, f)} {new FileInfo(f).Length}")];
}

public sealed class FineTuneTests : IClassFixture<WebLlmFactory>
{
    private readonly Api api;

    public FineTuneTests(WebLlmFactory factory) => api = new Api(factory.CreateClient());

    [Fact]
    public async Task A_run_can_start_from_another_runs_checkpoint()
    {
        var source = await api.LaunchAsync(Api.Tiny(maxSteps: 10) with { NLayer = 2, NEmbd = 64 });
        source = await api.WaitForAsync(source.Id, r => r.Status == RunStatus.Completed, "Completed");

        var tuned = await api.LaunchAsync(Api.Tiny(maxSteps: 6) with { Preset = "baby", InitFromRunId = source.Id, LearningRate = 1e-4 });
        Assert.Equal((2, 64), (tuned.Model.NLayer, tuned.Model.NEmbd)); // the checkpoint's shape, not the preset's
        tuned = await api.WaitForAsync(tuned.Id, r => r.Status == RunStatus.Completed, "Completed");
        var first = (await api.Http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(tuned.Id)))!.Steps[0];
        var scratch = (await api.Http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(source.Id)))!.Steps[0];
        // Starting from trained weights, the first loss is already below where training from scratch began.
        Assert.True(first.Loss < scratch.Loss, $"fine-tuning started at {first.Loss}, scratch at {scratch.Loss}");

        var missing = await api.Http.PostAsJsonAsync(ApiRoutes.Runs, Api.Tiny() with { InitFromRunId = 424242 });
        await Api.AssertProblemAsync(missing, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed);
    }
}
