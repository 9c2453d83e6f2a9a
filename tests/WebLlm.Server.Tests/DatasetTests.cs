using System.Net;
using System.Net.Http.Json;
using System.Text;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

public sealed class SmallUploadFactory() : WebLlmFactory(null, new() { ["WebLlm:MaxUploadBytes"] = "8000" });

public class DatasetTests(SmallUploadFactory factory) : IClassFixture<SmallUploadFactory>
{
    private readonly Api api = new(factory.CreateClient());

    private static readonly string Text = string.Concat(Enumerable.Repeat("To be, or not to be, that is the question.\n", 120)); // 5160 bytes

    private static MultipartFormDataContent Upload(string name, params (string FileName, byte[] Bytes)[] files) => Upload(name, "char", [], files);

    private static MultipartFormDataContent Upload(string name, string tokenizer, (string Field, string Value)[] fields, params (string FileName, byte[] Bytes)[] files)
    {
        var form = new MultipartFormDataContent { { new StringContent(name), "name" }, { new StringContent(tokenizer), "tokenizer" } };
        foreach (var (field, value) in fields) form.Add(new StringContent(value), field);
        foreach (var (fileName, bytes) in files) form.Add(new ByteArrayContent(bytes), "files", fileName);
        return form;
    }

    [Fact]
    public async Task An_uploaded_text_file_becomes_a_ready_dataset_with_token_counts_and_a_preview()
    {
        var response = await api.Http.PostAsync(ApiRoutes.Datasets, Upload("hamlet", ("a.txt", Encoding.UTF8.GetBytes(Text))));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await response.Content.ReadFromJsonAsync<DatasetDto>())!;
        Assert.Equal("hamlet", created.Name);

        var ready = await api.WaitForDatasetAsync(created.Id);

        Assert.Equal(DatasetStatus.Ready, ready.Status);
        Assert.Equal(Text.Length, ready.TrainTokens + ready.ValTokens);
        Assert.Equal(Text.Distinct().Count(), ready.VocabSize);
        Assert.Equal(Text.Length, ready.SourceBytes);
        var preview = (await api.Http.GetFromJsonAsync<DatasetPreviewDto>(ApiRoutes.DatasetPreview(created.Id)))!;
        Assert.Equal("To be, or not to be, that is the question.", preview.Lines[0]);
        Assert.Equal("T", preview.Tokens[0].Text);
    }

    [Fact]
    public async Task An_upload_with_a_bpe_tokenizer_learns_it_and_a_run_trains_and_samples_with_it()
    {
        var form = Upload("hamlet-bpe", "bpe", [("vocabSize", "300"), ("split", "gpt4"), ("chatTokens", "true")], ("a.txt", Encoding.UTF8.GetBytes(Text)));
        var response = await api.Http.PostAsync(ApiRoutes.Datasets, form);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var ready = await api.WaitForDatasetAsync((await response.Content.ReadFromJsonAsync<DatasetDto>())!.Id);

        Assert.Equal(DatasetStatus.Ready, ready.Status);
        Assert.Equal("bpe", ready.Tokenizer);
        Assert.InRange(ready.VocabSize!.Value, 261, 300); // at most what was asked: one repeated line runs out of pairs
        Assert.True(ready.TrainTokens + ready.ValTokens < Text.Length / 3, $"{ready.TrainTokens + ready.ValTokens} tokens for {Text.Length} characters");
        var preview = (await api.Http.GetFromJsonAsync<DatasetPreviewDto>(ApiRoutes.DatasetPreview(ready.Id)))!;
        Assert.Contains(preview.Tokens, t => t.Text.Length > 3); // whole words, not characters

        var run = await api.LaunchAsync(new CreateRunRequest { Preset = "tiny", DatasetId = ready.Id, MaxSteps = 3, BlockSize = 16, BatchSize = 2, EvalEvery = 0, SampleEvery = 0 });
        await api.WaitForStatusAsync(run.Id, RunStatus.Completed);
        var generated = await api.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(run.Id), new GenerateRequest { Prompt = "To be", MaxTokens = 5, Temperature = 0 });
        Assert.Equal(HttpStatusCode.OK, generated.StatusCode);
        var answer = (await generated.Content.ReadFromJsonAsync<GenerateResponse>())!;
        Assert.Equal(2, answer.PromptTokens); // "To" and " be": the run's own tokenizer, from its checkpoint
        Assert.InRange(answer.CompletionTokens, 1, 5);
    }

    [Fact]
    public async Task The_tokenizer_inspector_splits_a_text_with_every_tokenizer_the_server_has()
    {
        var form = Upload("inspect-bpe", "bpe", [("vocabSize", "300")], ("a.txt", Encoding.UTF8.GetBytes(Text)));
        var created = (await (await api.Http.PostAsync(ApiRoutes.Datasets, form)).Content.ReadFromJsonAsync<DatasetDto>())!;
        await api.WaitForDatasetAsync(created.Id);
        await api.WaitForBuiltinAsync();

        const string text = "To be, or not to be";
        var response = await api.Http.PostAsJsonAsync(ApiRoutes.Tokenize, new TokenizeRequest { Text = text });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var views = (await response.Content.ReadFromJsonAsync<List<TokenizerViewDto>>())!;

        var bpe = views.Single(v => v.DatasetId == created.Id);
        Assert.Equal("bpe", bpe.Tokenizer);
        Assert.Equal(text, string.Concat(bpe.Tokens.Select(t => t.Text)));
        Assert.Contains(bpe.Tokens, t => t.Text == " not"); // a word of the upload is one token
        Assert.NotEmpty(bpe.FirstMerges);
        var chars = views.First(v => v.Tokenizer == "char");
        Assert.True(chars.Error is not null || chars.Tokens.Count == text.Length, chars.Error);
        Assert.True(bpe.Tokens.Count < text.Length / 2, $"{bpe.Tokens.Count} tokens");

        var noText = await api.Http.PostAsync(ApiRoutes.Tokenize, new StringContent("""{"text":null}""", Encoding.UTF8, "application/json"));
        await Api.AssertProblemAsync(noText, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed);
        var tooLong = await api.Http.PostAsJsonAsync(ApiRoutes.Tokenize, new TokenizeRequest { Text = new string('a', TokenizeRequest.MaxLength + 1) });
        var problem = await Api.AssertProblemAsync(tooLong, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed);
        Assert.True(problem.GetProperty("errors").TryGetProperty("text", out _));
    }

    [Theory]
    [InlineData("vocabSize", "100")]
    [InlineData("vocabSize", "70000")]
    [InlineData("vocabSize", "lots")]
    [InlineData("split", "gpt5")]
    [InlineData("chatTokens", "yes")]
    public async Task Bad_bpe_settings_are_400_naming_the_field_and_nothing_is_created(string field, string value)
    {
        var before = await api.ListAsync<DatasetDto>(ApiRoutes.Datasets);
        var form = Upload("bad-bpe", "bpe", [(field, value)], ("a.txt", Encoding.UTF8.GetBytes(Text)));
        var problem = await Api.AssertProblemAsync(await api.Http.PostAsync(ApiRoutes.Datasets, form), HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal(before.Count, (await api.ListAsync<DatasetDto>(ApiRoutes.Datasets)).Count);
    }

    [Fact]
    public async Task Invalid_utf8_is_rejected_naming_the_file_and_byte_offset()
    {
        byte[] bytes = [.. "Hello"u8, 0xC3, 0x28, .. " world"u8];
        var response = await api.Http.PostAsync(ApiRoutes.Datasets, Upload("bad", ("bad.txt", bytes)));

        var problem = await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.InvalidText);
        string detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("bad.txt", detail);
        Assert.Contains("offset 5", detail);
    }

    [Fact]
    public async Task An_upload_over_the_configured_limit_is_413()
    {
        var response = await api.Http.PostAsync(ApiRoutes.Datasets, Upload("big", ("big.txt", new byte[9000])));
        await Api.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, ErrorCodes.PayloadTooLarge);
    }

    [Fact]
    public async Task Upload_without_txt_files_is_400_naming_the_field()
    {
        var response = await api.Http.PostAsync(ApiRoutes.Datasets, Upload("none", ("a.csv", "x,y"u8.ToArray())));
        var problem = await Api.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed);
        Assert.True(problem.GetProperty("errors").TryGetProperty("files", out _));
    }

    [Fact]
    public async Task A_dataset_cannot_be_deleted_while_a_run_uses_it()
    {
        var created = (await (await api.Http.PostAsync(ApiRoutes.Datasets, Upload("used", ("u.txt", Encoding.UTF8.GetBytes(Text))))).Content.ReadFromJsonAsync<DatasetDto>())!;
        await api.WaitForDatasetAsync(created.Id);
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 2000) with { DatasetId = created.Id });
        Assert.Equal(created.Id, run.DatasetId);
        Assert.Equal(Text.Distinct().Count(), run.Model.VocabSize); // the vocabulary comes from the dataset

        await Api.AssertProblemAsync(await api.Http.DeleteAsync(ApiRoutes.Dataset(created.Id)), HttpStatusCode.Conflict, ErrorCodes.DatasetInUse);

        await api.CommandAsync(run.Id, "stop");
        await api.WaitForStatusAsync(run.Id, RunStatus.Stopped);
        Assert.Equal(HttpStatusCode.NoContent, (await api.Http.DeleteAsync(ApiRoutes.Dataset(created.Id))).StatusCode);
        await Api.AssertProblemAsync(await api.Http.GetAsync(ApiRoutes.Dataset(created.Id)), HttpStatusCode.NotFound, ErrorCodes.DatasetNotFound);
        Assert.False(Directory.Exists(Path.Combine(factory.DataDirectory, "datasets", created.Id.ToString())));
    }
}
