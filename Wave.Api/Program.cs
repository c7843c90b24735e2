var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWaveApi();
builder.AddWaveEmbeddedServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapWaveApi();
app.MapWaveEmbeddedServices();

app.Run();
