using Scalar.AspNetCore;

namespace WebLlm.Server;

public static class OpenApiExtensions
{
    public static WebApplicationBuilder AddApiDocs(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi();
        return builder;
    }

    /// <summary>The OpenAPI document at /openapi/v1.json and a browsable reference at /scalar.</summary>
    public static IEndpointRouteBuilder MapApiDocs(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi();
        app.MapScalarApiReference();
        return app;
    }
}
