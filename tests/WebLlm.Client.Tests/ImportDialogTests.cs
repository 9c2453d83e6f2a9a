using System.Net;
using System.Text.Json;
using Bunit;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using WebLlm.Client.Pages;
using WebLlm.Contracts;
using static WebLlm.Client.Tests.TestData;

namespace WebLlm.Client.Tests;

public class ImportDialogTests : ClientTestContext
{
    [Fact]
    public void Lists_the_imports_folder_shows_field_errors_and_opens_the_imported_run()
    {
        var posts = 0;
        var server = UseServer(request => (request.Method.Method, request.RequestUri!.AbsolutePath) switch
        {
            ("GET", ApiRoutes.Runs) => FakeHandler.Json(Array.Empty<RunDto>()),
            ("GET", ApiRoutes.Datasets) => FakeHandler.Json(new[] { Dataset(1) }),
            ("GET", ApiRoutes.Imports) => FakeHandler.Json(new[]
            {
                new ImportCandidateDto("broken.bin", "llmc", 12, false, "not an llm.c model file (bad magic)"),
                new ImportCandidateDto("gpt2", "hf", 497_759_232, true, "12 layers, 12 heads, 768 wide"),
            }),
            ("POST", ApiRoutes.Imports) => ++posts == 1
                ? FakeHandler.Problem(HttpStatusCode.BadRequest, """{"title":"One or more validation errors occurred.","status":400,"code":"validation_failed","errors":{"runName":["A run name has at most 200 characters."]}}""")
                : FakeHandler.Json(Run(7, RunStatus.Completed) with { Engine = "import: Hugging Face" }, HttpStatusCode.Created),
            _ => FakeHandler.Json(Array.Empty<object>()),
        });
        var cut = Render(builder =>
        {
            builder.OpenComponent<MudDialogProvider>(0);
            builder.CloseComponent();
            builder.OpenComponent<Runs>(1);
            builder.CloseComponent();
        });
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=import-model]")));
        cut.Find("[data-testid=import-model]").Click();

        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=import-row]").Count));
        var rows = cut.FindAll("[data-testid=import-row]");
        Assert.Equal("false", rows[0].GetAttribute("data-importable"));
        Assert.Contains("bad magic", rows[0].TextContent);
        rows[0].Click(); // not importable: the selection stays on the importable one
        Assert.Equal(["false", "true"], cut.FindAll("[data-testid=import-selected]").Select(e => e.GetAttribute("data-selected")));

        cut.Find("input[data-testid=import-run-name], [data-testid=import-run-name] input").Change("my gpt2");
        cut.Find("[data-testid=import-submit]").Click();
        cut.WaitForAssertion(() => Assert.Contains("at most 200 characters", cut.Markup));

        cut.Find("[data-testid=import-submit]").Click();
        var nav = Services.GetService(typeof(NavigationManager)) as NavigationManager;
        cut.WaitForAssertion(() => Assert.EndsWith("runs/7", nav!.Uri));
        var body = server.Requests.Last(r => r.Method == HttpMethod.Post).Body!;
        var sent = JsonSerializer.Deserialize<ImportRequest>(body, JsonSerializerOptions.Web)!;
        Assert.Equal("gpt2", sent.Name);
        Assert.Equal("my gpt2", sent.RunName);
        Assert.Null(sent.DatasetId);
    }
}
