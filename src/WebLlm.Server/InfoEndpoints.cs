using Microsoft.Extensions.Options;
using TorchSharp;
using WebLlm.Contracts;

namespace WebLlm.Server;

public static class InfoEndpoints
{
    public static IEndpointRouteBuilder MapInfo(this IEndpointRouteBuilder app)
    {
        app.MapGet(ApiRoutes.Health, () => TypedResults.Ok("ok"));
        app.MapGet(ApiRoutes.Info, (IOptions<WebLlmOptions> options) =>
            TypedResults.Ok(new ServerInfo(
                typeof(InfoEndpoints).Assembly.GetName().Version?.ToString() ?? "0.0.0",
                torch.cuda.is_available() ? "cuda" : "cpu",
                torch.get_num_threads(),
                torch.__version__,
                Path.GetFullPath(options.Value.DataDirectory))));
        return app;
    }
}
