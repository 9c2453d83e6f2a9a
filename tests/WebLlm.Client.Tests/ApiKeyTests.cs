using System.Net;
using Bunit;
using MudBlazor;
using WebLlm.Client.Components;
using WebLlm.Client.Pages;
using WebLlm.Client.Services;
using WebLlm.Contracts;
using static WebLlm.Client.Tests.TestData;

namespace WebLlm.Client.Tests;

public class ApiKeyTests : ClientTestContext
{
    private const string Unauthorized = """{"title":"Unauthorized","status":401,"code":"unauthorized","detail":"This server requires an API key."}""";

    [Fact]
    public void A_401_asks_for_the_key_once_and_later_requests_carry_it()
    {
        var authorizations = new List<string?>();
        UseServer(request =>
        {
            var auth = request.Headers.Authorization?.ToString();
            lock (authorizations) authorizations.Add(auth);
            if (auth != "Bearer s3cret") return FakeHandler.Problem(HttpStatusCode.Unauthorized, Unauthorized);
            return request.RequestUri!.AbsolutePath == ApiRoutes.Runs
                ? FakeHandler.Json(new[] { Run(1, RunStatus.Completed, 100) })
                : FakeHandler.Json(Array.Empty<object>());
        });
        var cut = Render(builder =>
        {
            builder.OpenComponent<MudDialogProvider>(0);
            builder.CloseComponent();
            builder.OpenComponent<ApiKeyPrompt>(1);
            builder.CloseComponent();
            builder.OpenComponent<Runs>(2);
            builder.CloseComponent();
        });

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=api-key-dialog]")));
        cut.Find("input[data-testid=api-key-input], [data-testid=api-key-input] input").Input("s3cret");
        cut.Find("[data-testid=api-key-save]").Click();

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=run-name]")));
        Assert.Empty(cut.FindAll("[data-testid=api-key-dialog]"));
        Assert.Equal("s3cret", Services.GetService(typeof(ApiKeyStore)) is ApiKeyStore keys ? keys.Key : null);
        Assert.Equal("Bearer s3cret", authorizations[^1]);
        Assert.Equal(new object?[] { ApiKeyStore.StorageKey, "s3cret" }, JSInterop.VerifyInvoke("localStorage.setItem").Arguments);
    }

    [Fact]
    public async Task A_stored_key_is_sent_from_the_first_request()
    {
        JSInterop.Setup<string?>("localStorage.getItem", ApiKeyStore.StorageKey).SetResult("stored");
        string? seen = null;
        UseServer(request =>
        {
            seen = request.Headers.Authorization?.ToString();
            return FakeHandler.Json(Array.Empty<RunDto>());
        });
        var api = (WebLlmApi)Services.GetService(typeof(WebLlmApi))!;
        await api.GetRunsAsync();
        Assert.Equal("Bearer stored", seen);
    }
}
