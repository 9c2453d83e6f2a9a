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
        // camelCase JSON by default; the enums carry their own string converters. Clients only send small invocations.
        builder.Services.AddSignalR(o => o.MaximumReceiveMessageSize = HubReceiveLimit);
        builder.Services.AddSingleton<HubSubscribers>();
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
        builder.Services.AddSingleton<External.ExternalIngestor>();
        return builder;
    }

    private const long HubBufferBytes = 64 * 1024;
    private const long HubReceiveLimit = 32 * 1024;

    public static IEndpointRouteBuilder MapTrainingHub(this IEndpointRouteBuilder app)
    {
        app.MapHub<TrainingHub>(ApiRoutes.TrainingHub, o =>
        {
            o.Transports = HttpTransportType.WebSockets | HttpTransportType.LongPolling | HttpTransportType.ServerSentEvents;
            // Per connection, set here rather than left to defaults: what the server buffers for a client that reads
            // slowly (or never) before writes to it wait, and what it takes from one.
            o.TransportMaxBufferSize = HubBufferBytes;
            o.ApplicationMaxBufferSize = HubBufferBytes;
        });
        return app;
    }
}
