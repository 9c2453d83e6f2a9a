using System.Net;
using Bunit;
using WebLlm.Client.Components;
using WebLlm.Contracts;
using static WebLlm.Client.Tests.TestData;

namespace WebLlm.Client.Tests;

public class NewRunFormTests : ClientTestContext
{
    private static readonly PresetDto Tiny = new("tiny", 4, 4, 128, 64, 7_000_000);
    private static readonly PresetDto Baby = new("baby", 6, 6, 384, 256, 30_000_000);

    private FakeHandler Server(Func<HttpRequestMessage, HttpResponseMessage>? createRun = null) => UseServer(request =>
        (request.Method.Method, request.RequestUri!.AbsolutePath) switch
        {
            ("GET", ApiRoutes.Presets) => FakeHandler.Json(new[] { Tiny, Baby }),
            ("GET", ApiRoutes.Datasets) => FakeHandler.Json(new[] { Dataset(1), Dataset(2, DatasetStatus.Preparing) }),
            ("GET", ApiRoutes.Runs) => FakeHandler.Json(Array.Empty<RunDto>()),
            ("POST", ApiRoutes.Runs) when createRun is not null => createRun(request),
            _ => new HttpResponseMessage(HttpStatusCode.NotFound),
        });

    private static string ErrorOf(IRenderedComponent<NewRunForm> form, string key) =>
        form.Find($"[data-testid=field-{key}]").QuerySelector(".mud-input-helper-text")?.TextContent ?? "";

    private static void Type(IRenderedComponent<NewRunForm> form, string key, string value) =>
        form.Find($"[data-testid=field-{key}] input").Input(value);

    [Fact]
    public void Preset_fills_the_shape_and_parameter_count_updates_as_you_type()
    {
        Server();
        var form = Render<NewRunForm>();
        form.WaitForAssertion(() => Assert.Equal(128, form.Instance.Model.NEmbd));
        var before = form.Find("[data-testid=param-count]").TextContent;

        Type(form, "nLayer", "8");

        form.WaitForAssertion(() => Assert.NotEqual(before, form.Find("[data-testid=param-count]").TextContent));
        // 8 layers of 128 wide, context 64, the builtin dataset's 65 symbols.
        Assert.Equal(ModelMath.Parameters(8, 128, 64, 65).ToString("N0"), form.Find("[data-testid=param-count]").TextContent);
        Assert.NotEqual("—", form.Find("[data-testid=memory-estimate]").TextContent);
        Assert.NotEqual("—", form.Find("[data-testid=step-estimate]").TextContent);
    }

    [Fact]
    public void Gpt2_small_has_its_exact_parameter_count() =>
        Assert.Equal(124_439_808, ModelMath.Parameters(12, 768, 1024, 50257));

    [Fact]
    public void Heads_that_do_not_divide_the_width_show_a_field_error_and_nothing_is_sent()
    {
        var server = Server(_ => throw new InvalidOperationException("must not be called"));
        var form = Render<NewRunForm>();
        form.WaitForAssertion(() => Assert.Equal(4, form.Instance.Model.NHead));

        Type(form, "nHead", "3");
        Type(form, "learningRate", "-1");
        form.Find("[data-testid=submit-run]").Click();

        form.WaitForAssertion(() => Assert.Contains("divisible by n_head", ErrorOf(form, "nHead")));
        Assert.Contains("positive", ErrorOf(form, "learningRate"));
        Assert.Equal("", ErrorOf(form, "nEmbd"));
        Assert.DoesNotContain(server.Requests, r => r.Method == HttpMethod.Post);
    }

    [Fact]
    public void A_dataset_still_preparing_is_rejected_on_its_field()
    {
        var server = Server(_ => throw new InvalidOperationException("must not be called"));
        var form = Render<NewRunForm>();
        form.WaitForAssertion(() => Assert.Equal(1, form.Instance.Model.DatasetId));
        Assert.Equal("", ErrorOf(form, "datasetId"));

        // Dataset 2 (still preparing) chosen, then Create: the select's own helper text says why, and nothing is sent.
        form.InvokeAsync(() => form.Instance.Model.DatasetId = 2);
        form.Find("[data-testid=submit-run]").Click();

        form.WaitForAssertion(() => Assert.Contains("not ready", ErrorOf(form, "datasetId")));
        Assert.DoesNotContain(server.Requests, r => r.Method == HttpMethod.Post);
    }

    [Fact]
    public void Server_validation_problem_lands_on_the_matching_fields()
    {
        const string problem = """
            {"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.","status":400,
             "code":"validation_failed","errors":{"nEmbd":["Over the memory budget of this server."],"BatchSize":["Too large."]}}
            """;
        Server(_ => FakeHandler.Problem(HttpStatusCode.BadRequest, problem));
        var form = Render<NewRunForm>();
        form.WaitForAssertion(() => Assert.Equal(128, form.Instance.Model.NEmbd));

        form.Find("[data-testid=submit-run]").Click();

        form.WaitForAssertion(() => Assert.Contains("memory budget", ErrorOf(form, "nEmbd")));
        Assert.Contains("Too large", ErrorOf(form, "batchSize"));
        Assert.Empty(form.FindAll("[data-testid=form-error]"));
    }

    [Fact]
    public void Valid_form_posts_the_request_and_reports_the_created_run()
    {
        RunDto? created = null;
        var server = Server(_ => FakeHandler.Json(Run(7, RunStatus.Queued), HttpStatusCode.Created));
        var form = Render<NewRunForm>(p => p.Add(f => f.OnCreated, (RunDto r) => created = r));
        form.WaitForAssertion(() => Assert.Equal(128, form.Instance.Model.NEmbd));

        Type(form, "maxSteps", "300");
        form.Find("[data-testid=submit-run]").Click();

        form.WaitForAssertion(() => Assert.Equal(7, created?.Id));
        var post = Assert.Single(server.Requests, r => r.Method == HttpMethod.Post);
        Assert.Contains("\"maxSteps\":300", post.Body);
        Assert.Contains("\"nHead\":4", post.Body);
        Assert.Contains("\"datasetId\":1", post.Body);
    }
}
