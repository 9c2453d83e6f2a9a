using System.Net.Http.Json;
using System.Text;
using WebLlm.Contracts;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace WebLlm.E2E.Tests;

public abstract class FormAndDatasetTests(WebLlmAppFixture app, ITestOutputHelper output) : BrowserTest(app, output)
{
    [Fact]
    public async Task Invalid_new_run_form_shows_client_and_server_errors_on_the_fields()
    {
        var runsBefore = await RunCountAsync();
        await OpenAsync("/");
        await TestId("new-run").ClickAsync();
        await Expect(TestId("new-run-form")).ToBeVisibleAsync();
        await Expect(TestId("param-count")).Not.ToHaveTextAsync("—");

        // A client rule: heads must divide the width. Nothing is sent.
        await TestId("field-nHead").Locator("input").FillAsync("3");
        await TestId("submit-run").ClickAsync();
        await Expect(TestId("field-nHead")).ToContainTextAsync("divisible by n_head");

        // A server rule the client does not know (the configured step cap): the ProblemDetails lands on the field.
        await TestId("field-nHead").Locator("input").FillAsync("4");
        await TestId("field-maxSteps").Locator("input").FillAsync("5000000");
        await TestId("submit-run").ClickAsync();
        await Expect(TestId("field-maxSteps")).ToContainTextAsync("max steps");
        await Expect(TestId("field-nHead")).Not.ToContainTextAsync("divisible");
        await App.ScreenshotAsync(Page, "new-run-errors");

        await TestId("cancel-run").ClickAsync();
        Assert.Equal(runsBefore, await RunCountAsync());
        AssertNoBrowserErrors("status of 400");
    }

    [Fact]
    public async Task Upload_a_text_dataset_see_it_prepared_and_preview_it()
    {
        var file = Path.Combine(App.DataDirectory, "poems.txt");
        var text = new StringBuilder();
        for (var i = 0; i < 400; i++)
        {
            text.AppendLine($"Line {i}: the quick brown fox jumps over the lazy dog, and the model learns to spell.");
        }
        await File.WriteAllTextAsync(file, text.ToString());

        await OpenAsync("/datasets");
        await Expect(TestId("datasets-table")).ToContainTextAsync("builtin");
        await TestId("upload-input").SetInputFilesAsync(file);
        await Expect(TestId("upload-files")).ToContainTextAsync("poems.txt");
        await Expect(TestId("upload-name").Locator("input")).ToHaveValueAsync("poems");
        await TestId("upload-submit").ClickAsync();
        // A 35 kB upload is over in milliseconds; the bar stays, full, once it is.
        await Expect(TestId("upload-progress")).ToBeVisibleAsync();
        await Expect(TestId("upload-progress")).ToHaveAttributeAsync("aria-valuenow", "100");

        var row = Page.Locator("tr", new() { Has = Page.GetByTestId("dataset-name").GetByText("poems", new() { Exact = true }) });
        await Expect(row.GetByTestId("dataset-status")).ToHaveTextAsync("Ready", new() { Timeout = 60_000 });
        await Expect(row.GetByTestId("dataset-train-tokens")).Not.ToHaveTextAsync("—");
        await row.GetByTestId("dataset-preview").ClickAsync();
        await Expect(TestId("preview-lines")).ToContainTextAsync("quick brown fox");
        await Expect(TestId("preview-tokens").Locator(".wl-token").First).ToBeVisibleAsync();
        await App.ScreenshotAsync(Page, "datasets");
        AssertNoBrowserErrors();
    }

    [Fact]
    public async Task Upload_with_a_bpe_tokenizer_learnt_from_the_text_shows_its_vocabulary_and_compression()
    {
        var file = Path.Combine(App.DataDirectory, $"bpe-{App.Layout}.txt");
        var text = new StringBuilder();
        for (var i = 0; i < 300; i++)
        {
            text.AppendLine($"Verse {i % 17}: the tokenizer learns whole words from this text, 안녕하세요 세계, again and again.");
        }
        await File.WriteAllTextAsync(file, text.ToString());

        await OpenAsync("/datasets");
        await TestId("upload-input").SetInputFilesAsync(file);
        await TestId("upload-tokenizer").Locator(".mud-select").First.ClickAsync();
        await Page.GetByText("BPE trained on this text").ClickAsync();
        await Expect(TestId("upload-vocab-size")).ToBeVisibleAsync();
        await TestId("upload-vocab-size").Locator("input").FillAsync("512");
        await TestId("upload-submit").ClickAsync();

        var row = Page.Locator("tr", new() { Has = Page.GetByTestId("dataset-name").GetByText($"bpe-{App.Layout}", new() { Exact = true }) });
        await Expect(row.GetByTestId("dataset-status")).ToHaveTextAsync("Ready", new() { Timeout = 60_000 });
        await Expect(row).ToContainTextAsync("bpe");
        // Whole words and phrases are tokens: several bytes each, where characters would be about one.
        var bytesPerToken = double.Parse(await row.GetByTestId("dataset-bytes-per-token").InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(bytesPerToken > 4, $"{bytesPerToken} bytes a token");
        AssertNoBrowserErrors();
    }

    [Fact]
    public async Task Tokenizer_inspector_shows_each_tokenizer_cutting_the_typed_text()
    {
        using (var http = new HttpClient { BaseAddress = App.BaseAddress })
        {
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (!(await http.GetFromJsonAsync<List<DatasetDto>>(ApiRoutes.Datasets))!.Any(d => d.Source == "builtin" && d.Status == DatasetStatus.Ready))
            {
                Assert.True(DateTime.UtcNow < deadline, "the built-in dataset was not ready within 2 minutes");
                await Task.Delay(250);
            }
        }
        await OpenAsync("/tokenizers");
        await TestId("inspector-text").Locator("textarea").FillAsync("the quick brown fox");
        // The built-in dataset's character tokenizer at least: one token a character.
        var chars = Page.Locator("[data-testid=inspector-view][data-tokenizer=char]").First;
        await Expect(chars.GetByTestId("inspector-count")).ToContainTextAsync("19 tokens", new() { Timeout = 30_000 });
        await Expect(chars.GetByTestId("inspector-tokens").Locator(".wl-token")).ToHaveCountAsync(19);
        await App.ScreenshotAsync(Page, "tokenizers");
        AssertNoBrowserErrors();
    }

    private async Task<int> RunCountAsync()
    {
        using var http = new HttpClient { BaseAddress = App.BaseAddress };
        return (await http.GetFromJsonAsync<List<RunDto>>(ApiRoutes.Runs))!.Count;
    }

    [Collection(BrowserCollection.Name)]
    public sealed class Build(WebLlmAppFixture app, ITestOutputHelper output) : FormAndDatasetTests(app, output);

    [Collection(PublishedBrowserCollection.Name)]
    public sealed class Published(PublishedAppFixture app, ITestOutputHelper output) : FormAndDatasetTests(app, output);
}
