using Microsoft.AspNetCore.Http.Connections;
using WebLlm.Contracts;
using WebLlm.Server.Datasets;
using WebLlm.Server.Inference;

namespace WebLlm.Server.Training;

public static class TrainingExtensions
{
    /// <summary>
    /// The training pipeline. Hosted services stop in reverse order: the training service first (it writes a
    /// last checkpoint), then the samplers, and the metric writer last, so it drains everything posted.
    /// </summary>
    public static WebApplicationBuilder AddTraining(this WebApplicationBuilder builder)
    {
        builder.Services.AddSignalR(); // camelCase JSON by default; the enums carry their own string converters
        builder.Services.AddSingleton<MetricWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MetricWriter>());
        builder.Services.AddSingleton<Broadcaster>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Broadcaster>());
        builder.Services.AddSingleton<DatasetService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DatasetService>());
        builder.Services.AddSingleton<TrainingService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TrainingService>());
        builder.Services.AddHostedService<SystemSampler>();
        builder.Services.AddSingleton<InferenceCache>();
        return builder;
    }

    public static IEndpointRouteBuilder MapTrainingHub(this IEndpointRouteBuilder app)
    {
        app.MapHub<TrainingHub>(ApiRoutes.TrainingHub, o => o.Transports = HttpTransportType.WebSockets | HttpTransportType.LongPolling | HttpTransportType.ServerSentEvents);
        return app;
    }
}
